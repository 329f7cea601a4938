//! Several services in one command (`-c a.yml -c b.yml`): all validated and checked before anything
//! changes, deployed concurrently, one JSON document, the worst exit code.

mod deploy_support;

use deploy_support::Stack;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn two_services_deploy_together_and_one_bad_config_stops_both() {
    let stack = Stack::new().await;
    let api_dns = stack.add_load_balancer("api").await;
    let web = stack.project();
    let api = stack.project_for("api");
    api.write();
    let api_config = api.path("kirikae.yml");
    let api_config = api_config.to_str().unwrap();

    let run = web.deploy(&["-c", api_config, "--output", "json"]);
    run.assert_exit(0);
    let doc = run.json();
    let deploys = doc["deploys"].as_array().expect("one document for both");
    let services: Vec<&str> = deploys
        .iter()
        .map(|d| d["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["web", "api"]);
    assert!(
        deploys.iter().all(|d| d["result"] == "succeeded"),
        "{doc:#}"
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v1"));
    assert_eq!(Stack::version_at(&api_dns, 80).as_deref(), Some("v1"));

    // Both Blue/Green at once.
    let api_v2 = stack.project_for("api").image("v2");
    api_v2.write();
    let run = stack.project().image("v2").deploy(&[
        "-c",
        api_v2.path("kirikae.yml").to_str().unwrap(),
        "--output",
        "json",
    ]);
    run.assert_exit(0);
    let doc = run.json();
    assert!(
        doc["deploys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["result"] == "succeeded" && d["deployment_id"].is_string()),
        "{doc:#}"
    );
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
    assert_eq!(Stack::version_at(&api_dns, 80).as_deref(), Some("v2"));

    // One broken config: nothing changes for either service.
    let broken = stack
        .project_for("api")
        .image("v3")
        .service("/desiredCont", json!(1));
    broken.write();
    let before = stack.mutating_calls();
    let run = stack
        .project()
        .image("v3")
        .deploy(&["-c", broken.path("kirikae.yml").to_str().unwrap()]);
    run.assert_exit(2).assert_says(&["desiredCont"]);
    assert_eq!(stack.mutating_calls(), before);
    assert_eq!(stack.version_on(80).as_deref(), Some("v2"));
}
