//! boto3 and the AWS CLI against the sandbox: runs the pytest suite in tests/python with this build's
//! binary. Needs `pip install -r tests/requirements.txt` (the README's test command does it).

use std::process::Command;

#[test]
fn boto3_and_aws_cli_suite() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let status = Command::new("python3")
        .args(["-m", "pytest", "-q", "-n", "4", "tests/python"])
        .current_dir(root)
        .env("KIRIKAE_BIN", env!("CARGO_BIN_EXE_kirikae"))
        .status()
        .expect("python3 must be installed to run the boto3/AWS CLI suite");
    assert!(
        status.success(),
        "pytest tests/python failed (see its output above)"
    );
}
