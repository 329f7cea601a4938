//! The background loop that makes state real: it reacts to process exits and, after every API call and
//! on a short tick, lets each service reconcile (start and stop tasks, register targets, run health
//! checks, expire drains).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::runtime::RuntimeEvent;
use crate::world::Shared;
use crate::{codedeploy, ecs, elbv2};

/// Upper bound on how long a timed transition can be late, in real time.
const TICK: Duration = Duration::from_millis(20);

pub async fn run(shared: Arc<Shared>, mut events: UnboundedReceiver<RuntimeEvent>) {
    loop {
        let event = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            ev = events.recv() => ev,
            _ = shared.wake.notified() => None,
            _ = tokio::time::sleep(TICK) => None,
        };
        let now = shared.clock.now_epoch();
        let mut world = shared.world();
        if let Some(RuntimeEvent::Exited {
            region,
            task_arn,
            container_name,
            exit_code,
        }) = event
        {
            shared.runtime.forget(&task_arn, &container_name);
            let mut cx = world.ctx(&shared, &region, now);
            ecs::on_container_exit(&mut cx, &task_arn, &container_name, exit_code);
        }
        world.each_region(&shared, now, |cx| {
            elbv2::reconcile(cx);
            ecs::reconcile(cx);
            codedeploy::reconcile(cx);
        });
    }
}
