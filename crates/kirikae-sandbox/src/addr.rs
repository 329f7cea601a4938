//! Loopback addresses, handed out like ENIs. Linux routes all of 127.0.0.0/8 to `lo`, so every task and
//! load balancer can have an address of its own and listen on its real port there.
//!
//! Several sandboxes may run on one machine (tests run in parallel). Each claims a /16 block
//! `127.B.0.0/16` by binding `127.B.0.1:CLAIM_PORT`: the kernel then refuses the same claim to every
//! other process until this one exits, however it exits, so no lock file can go stale.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Mutex;

const CLAIM_PORT: u16 = 47_731;
/// Blocks below 16 are left alone: 127.0.0.1 and its neighbours are where other software lives.
const FIRST_BLOCK: u8 = 16;

#[derive(Debug, thiserror::Error)]
#[error(
    "no free loopback block 127.B.0.0/16 (B in {FIRST_BLOCK}..=254): every block is claimed by another sandbox"
)]
pub struct NoFreeBlock;

pub struct AddressPool {
    block: u8,
    next: Mutex<u16>,
    _claim: TcpListener,
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
                    next: Mutex::new(2),
                    _claim: claim,
                });
            }
        }
        Err(NoFreeBlock)
    }

    pub fn block(&self) -> u8 {
        self.block
    }

    /// A fresh address no one else in this sandbox holds (127.B.0.2, 127.B.0.3, …).
    pub fn allocate(&self) -> Ipv4Addr {
        let mut next = self.next.lock().expect("address pool lock");
        let n = *next;
        // Skip .0 and .255 host bytes so addresses look ordinary; 65k addresses outlast any session.
        *next = if n & 0xff >= 254 {
            (n & 0xff00) + 0x101
        } else {
            n + 1
        };
        Ipv4Addr::new(127, self.block, (n >> 8) as u8, n as u8)
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
        let x = a.allocate();
        let y = a.allocate();
        assert_ne!(x, y);
        assert_eq!(x.octets()[1], a.block());
    }

    #[test]
    fn allocation_skips_broadcast_like_host_bytes() {
        let a = AddressPool::claim().unwrap();
        let addrs: Vec<_> = (0..600).map(|_| a.allocate()).collect();
        assert!(
            addrs
                .iter()
                .all(|ip| ip.octets()[3] != 0 && ip.octets()[3] != 255)
        );
        let unique: std::collections::HashSet<_> = addrs.iter().collect();
        assert_eq!(unique.len(), addrs.len());
    }
}
