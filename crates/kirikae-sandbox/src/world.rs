//! All emulated state, and what every handler and background job shares.
//!
//! State is kept per account and region, as in AWS; global services (IAM) keep theirs per account. Handlers run synchronously under one lock, so every
//! API call is atomic with respect to every other and to the background controllers; nothing awaits
//! while holding it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::addr::AddressPool;
use crate::clock::Clock;
use crate::runtime::Runtime;
use crate::{cloudwatch, codedeploy, ecs, elbv2, iam};

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionKey {
    pub account: String,
    pub region: String,
}

impl RegionKey {
    /// `arn:aws:{service}:{region}:{account}:{resource}`
    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:aws:{service}:{}:{}:{resource}",
            self.region, self.account
        )
    }

    /// Where an ARN points when it is not here: its region (checked first, as AWS answers "Invalid
    /// Region in ARN" before looking at the account) or its account. `None` for a plain name or an ARN
    /// of this region and account.
    pub fn foreign<'a>(&self, reference: &'a str) -> Option<Foreign<'a>> {
        match reference.splitn(6, ':').collect::<Vec<_>>().as_slice() {
            ["arn", _, _, region, _, _] if *region != self.region => Some(Foreign::Region(region)),
            ["arn", _, _, _, account, _] if *account != self.account => {
                Some(Foreign::Account(account))
            }
            _ => None,
        }
    }
}

/// An ARN of another region or account than the one a request is served in ([`RegionKey::foreign`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Foreign<'a> {
    Region(&'a str),
    Account(&'a str),
}

/// One account's resources in one region.
pub struct Region {
    pub key: RegionKey,
    pub ecs: ecs::EcsState,
    pub elbv2: elbv2::Elbv2State,
    pub codedeploy: codedeploy::CodeDeployState,
    pub cloudwatch: cloudwatch::CloudWatchState,
}

/// One account's global resources (not per region): IAM roles.
pub struct Account {
    pub id: String,
    pub iam: iam::IamState,
}

#[derive(Default)]
pub struct World {
    regions: BTreeMap<RegionKey, Region>,
    accounts: BTreeMap<String, Account>,
}

/// An account's global state, created on first use (with IAM's default roles, stamped `now`).
fn account_entry<'a>(
    accounts: &'a mut BTreeMap<String, Account>,
    id: &str,
    now: f64,
) -> &'a mut Account {
    accounts.entry(id.to_string()).or_insert_with(|| Account {
        id: id.to_string(),
        iam: iam::IamState::new(id, now),
    })
}

impl World {
    pub fn region(&mut self, key: &RegionKey) -> &mut Region {
        self.regions.entry(key.clone()).or_insert_with(|| Region {
            key: key.clone(),
            ecs: ecs::EcsState::default(),
            elbv2: elbv2::Elbv2State::default(),
            codedeploy: codedeploy::CodeDeployState::default(),
            cloudwatch: cloudwatch::CloudWatchState::default(),
        })
    }

    /// An account's global state (IAM).
    pub fn account(&mut self, id: &str, now: f64) -> &mut Account {
        account_entry(&mut self.accounts, id, now)
    }

    /// What a handler in `key`'s region gets: the region and its account.
    pub fn ctx<'a>(&'a mut self, shared: &'a Arc<Shared>, key: &RegionKey, now: f64) -> Ctx<'a> {
        self.region(key);
        let region = self.regions.get_mut(key).expect("just inserted");
        let account = account_entry(&mut self.accounts, &key.account, now);
        Ctx {
            shared,
            region,
            account,
            now,
        }
    }

    /// Run `step` in every region that exists, with its account.
    pub fn each_region(&mut self, shared: &Arc<Shared>, now: f64, mut step: impl FnMut(&mut Ctx)) {
        for region in self.regions.values_mut() {
            let account = account_entry(&mut self.accounts, &region.key.account, now);
            step(&mut Ctx {
                shared,
                region,
                account,
                now,
            });
        }
    }
}

/// What handlers and background jobs share.
pub struct Shared {
    pub clock: Clock,
    pub addrs: AddressPool,
    pub runtime: Runtime,
    /// What CodeDeploy runs for AppSpec hook functions.
    pub hooks: codedeploy::HookConfig,
    pub world: Mutex<World>,
    /// API calls answered, by `service.Operation` (benchmarks and tests read them).
    pub calls: Mutex<BTreeMap<String, u64>>,
    /// Optional AWS-like API rate limit, and how many calls it refused.
    pub throttle: Option<crate::throttle::Throttle>,
    pub throttled: std::sync::atomic::AtomicU64,
    /// Injected faults (`--fault`, `/_kirikae/faults`).
    pub faults: crate::faults::Faults,
    /// Wakes the controller after a change, so reactions do not wait for its next tick.
    pub wake: Notify,
    /// Cancelled at shutdown; every listener and job holds a child of it.
    pub shutdown: CancellationToken,
}

impl Shared {
    /// A sandbox's shared state for unit tests: time scale 60, no images, no hooks, no throttling, and a
    /// runtime whose events nobody reads.
    #[cfg(test)]
    pub fn for_tests() -> Arc<Shared> {
        let (events, _) = tokio::sync::mpsc::unbounded_channel();
        Arc::new(Shared {
            clock: crate::clock::Clock::new(60.0),
            addrs: crate::addr::AddressPool::claim().expect("a free loopback block"),
            runtime: crate::runtime::Runtime::new(Default::default(), 60.0, events),
            hooks: Default::default(),
            world: Mutex::new(World::default()),
            calls: Mutex::new(Default::default()),
            throttle: None,
            throttled: Default::default(),
            faults: Default::default(),
            wake: Notify::new(),
            shutdown: CancellationToken::new(),
        })
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock is a sandbox bug; keep serving rather than cascade.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What a handler or controller step gets: the shared sandbox, the region it acts in and that region's
/// account (global services' state, which CodeDeploy reads to assume its service role).
pub struct Ctx<'a> {
    pub shared: &'a Arc<Shared>,
    pub region: &'a mut Region,
    pub account: &'a mut Account,
    /// Epoch seconds at the start of this call, so one call stamps one time everywhere.
    pub now: f64,
}

#[cfg(test)]
mod foreign_tests {
    use super::{Foreign, RegionKey};

    #[test]
    fn an_arn_of_another_region_or_account_is_foreign_and_a_name_is_not() {
        let key = RegionKey {
            account: "000000000000".into(),
            region: "us-east-1".into(),
        };
        assert_eq!(key.foreign("web"), None);
        assert_eq!(
            key.foreign("arn:aws:ecs:us-east-1:000000000000:service/demo/web"),
            None
        );
        assert_eq!(
            key.foreign("arn:aws:ecs:eu-west-1:111111111111:service/demo/web"),
            Some(Foreign::Region("eu-west-1"))
        );
        assert_eq!(
            key.foreign("arn:aws:ecs:us-east-1:111111111111:cluster/demo"),
            Some(Foreign::Account("111111111111"))
        );
    }
}
