//! The move under the deploy lock ([`crate::lock`]): a `kirikae deploy` of the same service and the
//! move must not interleave (a CreateDeployment between the listeners' rewrite and UpdateService, or a
//! second move). Under the lock, the group's running deployment is checked again; a run that waited
//! for the lock plans the move again, as what it was planned against may have changed.

use std::time::Duration;

use super::{Migration, Options};
use crate::connection::Clients;
use crate::error::Error;
use crate::lock::{self, Active, Guarded};
use crate::plan::Plan;

/// A planned migration with what planning it again needs.
pub struct Guard {
    pub migration: Migration,
    pub plan: Plan,
    pub options: Options,
    pub aws: Clients,
}

impl Guarded for Guard {
    fn aws(&self) -> &Clients {
        &self.aws
    }
    fn cluster(&self) -> &str {
        &self.migration.cluster
    }
    fn service(&self) -> &str {
        &self.migration.service
    }
    /// A move never queues: a deployment running is a reason to refuse it (migrate's own check).
    fn wait_for_active(&self) -> bool {
        false
    }
    fn poll_interval(&self) -> Duration {
        self.plan.wait.poll_interval
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(30 * 60)
    }
    fn changes_nothing(&self) -> bool {
        !self.migration.changes_anything()
    }
    async fn active(&self) -> Result<Option<Active>, Error> {
        lock::active_deployment(&self.aws, &self.plan).await
    }
    fn active_refusal(&self, a: &Active) -> Error {
        lock::active_refusal(&self.plan, a)
    }
    async fn checked_again(self) -> Result<Self, Error> {
        let migration = super::plan(&self.plan, &self.options, &self.aws).await?;
        Ok(Guard { migration, ..self })
    }
}

/// Takes the service's deploy lock for the move (a run id and who/where of its own, as a deploy's);
/// under it the group's running deployment is checked again. Nothing is changed when it is refused.
pub async fn take(
    guard: Guard,
    observer: &dyn crate::progress::Observer,
    interrupt: &crate::interrupt::Interrupt,
) -> lock::Taken<Guard> {
    let run_id = uuid::Uuid::new_v4().to_string();
    let audit = crate::audit::Record::gather(&guard.aws).await;
    lock::take(guard, &run_id, &audit, observer, interrupt).await
}
