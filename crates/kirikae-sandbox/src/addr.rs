//! Loopback addresses, handed out like ENIs. Linux routes all of 127.0.0.0/8 to `lo`, so every task and
//! load balancer can have an address of its own and listen on its real port there.
//!
//! Several sandboxes may run on one machine (tests run in parallel). Each claims a /16 block
//! `127.B.0.0/16` by binding `127.B.0.1:CLAIM_PORT`: the kernel then refuses the same claim to every
//! other process until this one exits, however it exits, so no lock file can go stale.
//!
//! The pool is also where the sandbox's capacity ends: addresses are never reused within a sandbox's
//! life, so when the block is used up the next task or load balancer is refused (never given an address
//! someone else had), and at most [`MAX_LIVE_TASKS`] tasks hold an address at once.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Mutex;

const CLAIM_PORT: u16 = 47_731;
/// Blocks below 16 are left alone: 127.0.0.1 and its neighbours are where other software lives.
const FIRST_BLOCK: u8 = 16;
/// Tasks (of every account and region) that may hold an address at once: from launch until STOPPED.
/// Every task is a real process; this bounds what API callers can make the sandbox run.
pub const MAX_LIVE_TASKS: usize = 500;
/// The first host number handed out (127.B.0.2: .0.0 is the network, .0.1 holds the claim).
const FIRST_HOST: u16 = 2;
/// The last host number handed out (127.B.255.254; .255.255 is the broadcast-like end of the block).
const LAST_HOST: u16 = 0xfffe;

#[derive(Debug, thiserror::Error)]
#[error(
    "no free loopback block 127.B.0.0/16 (B in {FIRST_BLOCK}..=254): every block is claimed by another sandbox"
)]
pub struct NoFreeBlock;

/// Why a task or load balancer got no address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoAddress {
    /// Every address of the block has been handed out once (they are not reused).
    #[error(
        "every address of the sandbox's loopback block 127.{block}.0.0/16 has been handed out (addresses are not reused while a sandbox runs; restart it)"
    )]
    Exhausted { block: u8 },
    /// [`MAX_LIVE_TASKS`] tasks hold an address already.
    #[error("the kirikae sandbox runs at most {max} tasks at once")]
    TooManyTasks { max: usize },
}

pub struct AddressPool {
    block: u8,
    state: Mutex<State>,
    max_live_tasks: usize,
    _claim: TcpListener,
}

struct State {
    /// The next host number to hand out (`None`: the block is used up).
    next: Option<u16>,
    /// Tasks holding an address now.
    live_tasks: usize,
}

impl AddressPool {
    /// Claim a free block, starting the search at a random one so parallel sandboxes rarely collide.
    pub fn claim() -> Result<AddressPool, NoFreeBlock> {
        let span = 255 - FIRST_BLOCK as u16;
        let start = rand::random_range(0..span);
        for i in 0..span {
            let block = (FIRST_BLOCK as u16 + (start + i) % span) as u8;
            let addr = SocketAddr::from((Ipv4Addr::new(127, block, 0, 1), CLAIM_PORT));
            if let Ok(claim) = TcpListener::bind(addr) {
                return Ok(AddressPool {
                    block,
                    state: Mutex::new(State {
                        next: Some(FIRST_HOST),
                        live_tasks: 0,
                    }),
                    max_live_tasks: MAX_LIVE_TASKS,
                    _claim: claim,
                });
            }
        }
        Err(NoFreeBlock)
    }

    pub fn block(&self) -> u8 {
        self.block
    }

    /// Whether `ip` lies in this sandbox's block (where its tasks and load balancers live).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                o[0] == 127 && o[1] == self.block
            }
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(IpAddr::V4(v4))),
        }
    }

    /// A fresh address no one else in this sandbox ever held (127.B.0.2, 127.B.0.3, …), for a load
    /// balancer. Errs once the block is used up.
    pub fn allocate(&self) -> Result<Ipv4Addr, NoAddress> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.next_address(&mut state)
    }

    /// An address for a new task, which counts against [`MAX_LIVE_TASKS`] until
    /// [`AddressPool::release_task`].
    pub fn place_task(&self) -> Result<Ipv4Addr, NoAddress> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.live_tasks >= self.max_live_tasks {
            return Err(NoAddress::TooManyTasks {
                max: self.max_live_tasks,
            });
        }
        let ip = self.next_address(&mut state)?;
        state.live_tasks += 1;
        Ok(ip)
    }

    /// A task placed with [`AddressPool::place_task`] has stopped.
    pub fn release_task(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.live_tasks = state.live_tasks.saturating_sub(1);
    }

    /// Tasks holding an address now.
    pub fn live_tasks(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .live_tasks
    }

    fn next_address(&self, state: &mut State) -> Result<Ipv4Addr, NoAddress> {
        let n = state
            .next
            .ok_or(NoAddress::Exhausted { block: self.block })?;
        // Skip .0 and .255 host bytes so addresses look ordinary.
        let following = if n & 0xff >= 254 {
            (n & 0xff00).checked_add(0x101)
        } else {
            Some(n + 1)
        };
        state.next = following.filter(|&f| f <= LAST_HOST);
        Ok(Ipv4Addr::new(127, self.block, (n >> 8) as u8, n as u8))
    }

    /// A pool whose counters start where a test wants them (near the end of the block, at a low task
    /// cap), without handing out tens of thousands of addresses first.
    #[cfg(test)]
    pub fn claim_for_tests(next: u16, max_live_tasks: usize) -> AddressPool {
        let mut pool = AddressPool::claim().expect("a free loopback block");
        pool.state.get_mut().unwrap().next = Some(next);
        pool.max_live_tasks = max_live_tasks;
        pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_pools_never_share_a_block() {
        let a = AddressPool::claim().unwrap();
        let b = AddressPool::claim().unwrap();
        assert_ne!(a.block(), b.block());
        let x = a.allocate().unwrap();
        let y = a.allocate().unwrap();
        assert_ne!(x, y);
        assert_eq!(x.octets()[1], a.block());
    }

    #[test]
    fn allocation_skips_broadcast_like_host_bytes() {
        let a = AddressPool::claim().unwrap();
        let addrs: Vec<_> = (0..600).map(|_| a.allocate().unwrap()).collect();
        assert!(
            addrs
                .iter()
                .all(|ip| ip.octets()[3] != 0 && ip.octets()[3] != 255)
        );
        let unique: std::collections::HashSet<_> = addrs.iter().collect();
        assert_eq!(unique.len(), addrs.len());
    }

    #[test]
    fn a_used_up_block_refuses_instead_of_wrapping() {
        let a = AddressPool::claim_for_tests(0xfffd, 10);
        let block = a.block();
        assert_eq!(a.allocate(), Ok(Ipv4Addr::new(127, block, 255, 253)));
        assert_eq!(a.place_task(), Ok(Ipv4Addr::new(127, block, 255, 254)));
        assert_eq!(a.allocate(), Err(NoAddress::Exhausted { block }));
        assert_eq!(a.place_task(), Err(NoAddress::Exhausted { block }));
        // Still refused later: nothing wraps back to 127.B.0.2.
        assert!(a.allocate().is_err());
        assert_eq!(a.live_tasks(), 1, "a refused task holds nothing");
    }

    #[test]
    fn tasks_are_capped_while_they_hold_an_address() {
        let a = AddressPool::claim_for_tests(2, 2);
        a.place_task().unwrap();
        a.place_task().unwrap();
        assert_eq!(a.place_task(), Err(NoAddress::TooManyTasks { max: 2 }));
        // Load balancers do not count against the task cap.
        assert!(a.allocate().is_ok());
        a.release_task();
        assert!(a.place_task().is_ok());
        assert_eq!(a.live_tasks(), 2);
    }

    #[test]
    fn only_the_own_block_is_contained() {
        let a = AddressPool::claim().unwrap();
        let b = a.block();
        assert!(a.contains(IpAddr::V4(Ipv4Addr::new(127, b, 3, 4))));
        assert!(!a.contains(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))));
        assert!(!a.contains(IpAddr::V4(Ipv4Addr::new(127, b.wrapping_add(1), 0, 2))));
        assert!(!a.contains("169.254.169.254".parse().unwrap()));
        assert!(!a.contains("::1".parse().unwrap()));
        assert!(a.contains(IpAddr::V6(Ipv4Addr::new(127, b, 0, 9).to_ipv6_mapped())));
    }
}
