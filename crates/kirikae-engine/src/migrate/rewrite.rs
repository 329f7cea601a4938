//! `kirikae.yml` with an `ecs:` block in place of `codedeploy:` (pure). In a YAML file whose
//! `codedeploy:` key starts a line, only that block's lines are replaced: every other line — comments,
//! templates, key order — stays as written (comments inside the old block go with it). Otherwise (JSON,
//! or YAML written as JSON) the document is parsed and written again: comments cannot survive that,
//! and the result says so.

use serde_json::{Map, Value, json};

use crate::native::config::EcsSection;

/// The new file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    pub text: String,
    /// Whether the file's lines outside the block (comments included) were kept as written.
    pub kept_as_written: bool,
}

/// The keys of the block in the order a reader expects (that of the `ecs:` block's documentation).
const ORDER: &[&str] = crate::native::config::KEYS;

/// The block as JSON, without unset members.
pub fn block_value(ecs: &EcsSection) -> Value {
    let mut v = serde_json::to_value(ecs).expect("the ecs: block serialises");
    strip_nulls(&mut v);
    if v["hooks"].as_array().is_some_and(Vec::is_empty)
        && let Some(m) = v.as_object_mut()
    {
        m.remove("hooks");
    }
    let mut ordered = Map::new();
    for k in ORDER {
        if let Some(x) = v.get(*k) {
            ordered.insert((*k).to_string(), x.clone());
        }
    }
    Value::Object(ordered)
}

fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// The block as YAML lines, `ecs:` first, each member on one line in flow style.
pub fn block_lines(ecs: &EcsSection, comment: &[String]) -> Vec<String> {
    let value = block_value(ecs);
    let mut lines: Vec<String> = comment.iter().map(|c| format!("# {c}")).collect();
    lines.push("ecs:".into());
    for k in ORDER {
        if let Some(x) = value.get(*k) {
            lines.push(format!("  {k}: {}", crate::init::config::flow(x)));
        }
    }
    lines
}

/// `original` (the file as written, before templating) with `ecs` in place of its `codedeploy:` block.
pub fn rewrite(
    original: &str,
    is_json: bool,
    ecs: &EcsSection,
    comment: &[String],
) -> Result<Rewritten, String> {
    if !is_json && let Some(text) = replace_lines(original, &block_lines(ecs, comment)) {
        return Ok(Rewritten {
            text,
            kept_as_written: true,
        });
    }
    let mut doc: Value = if is_json {
        serde_json::from_str(original).map_err(|e| e.to_string())?
    } else {
        serde_yaml_ng::from_str(original).map_err(|e| e.to_string())?
    };
    let Some(map) = doc.as_object_mut() else {
        return Err("the file is not a mapping of keys".into());
    };
    if map.remove("codedeploy").is_none() {
        return Err("the file has no `codedeploy:` key".into());
    }
    map.insert("ecs".into(), block_value(ecs));
    let text = if is_json || original.trim_start().starts_with('{') {
        format!("{:#}\n", json!(map))
    } else {
        serde_yaml_ng::to_string(&doc).map_err(|e| e.to_string())?
    };
    Ok(Rewritten {
        text,
        kept_as_written: false,
    })
}

/// Replaces the lines of the top-level `codedeploy:` block: from its key to the last line indented
/// under it (blank lines and comments at the block's end stay with what follows).
fn replace_lines(original: &str, block: &[String]) -> Option<String> {
    let lines: Vec<&str> = original.lines().collect();
    let is_key = |l: &str| {
        ["codedeploy", "\"codedeploy\"", "'codedeploy'"]
            .iter()
            .any(|k| {
                l.strip_prefix(k)
                    .is_some_and(|r| r.trim_start().starts_with(':'))
            })
    };
    let start = lines.iter().position(|l| is_key(l))?;
    let mut end = start + 1;
    while end < lines.len() {
        let l = lines[end];
        let top_level = !l.is_empty() && !l.starts_with([' ', '\t']) && !l.starts_with('#');
        if top_level {
            break;
        }
        end += 1;
    }
    // Trailing blank lines and column-0 comments belong to what follows.
    while end > start + 1 {
        let l = lines[end - 1];
        if l.trim().is_empty() || l.starts_with('#') {
            end -= 1;
        } else {
            break;
        }
    }
    let mut out: Vec<String> = lines[..start].iter().map(|l| l.to_string()).collect();
    out.extend(block.iter().cloned());
    out.extend(lines[end..].iter().map(|l| l.to_string()));
    let mut text = out.join("\n");
    if original.ends_with('\n') {
        text.push('\n');
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ListenerByPort, ListenerRef};
    use crate::native::config::Strategy;

    fn ecs() -> EcsSection {
        EcsSection {
            strategy: Strategy::BlueGreen,
            bake_time_minutes: 2,
            linear: None,
            canary: None,
            target_groups: vec!["web-blue".into(), "web-green".into()],
            production_listener: ListenerRef::Port(ListenerByPort {
                load_balancer: "web-alb".into(),
                port: 80,
            }),
            test_listener: None,
            infrastructure_role: "arn:aws:iam::1:role/infra".into(),
            hooks: Vec::new(),
            alarms: None,
        }
    }

    const YAML: &str = "# the web service\ncluster: demo\ncodedeploy:\n  # the pair\n  target_groups: [web-blue, web-green]\n  service_role: arn:aws:iam::1:role/cd\n\n# what follows\nnotifications:\n  webhook: {url: '{{ env \"HOOK\" \"\" }}'}\n";

    #[test]
    fn only_the_block_is_replaced_and_every_other_line_is_kept() {
        let r = rewrite(YAML, false, &ecs(), &["moved".into()]).unwrap();
        assert!(r.kept_as_written);
        assert_eq!(
            r.text,
            "# the web service\ncluster: demo\n# moved\necs:\n  strategy: BLUE_GREEN\n  bake_time_minutes: 2\n  target_groups: [web-blue, web-green]\n  production_listener: {load_balancer: web-alb, port: 80}\n  infrastructure_role: arn:aws:iam::1:role/infra\n\n# what follows\nnotifications:\n  webhook: {url: '{{ env \"HOOK\" \"\" }}'}\n"
        );
        let back: Value = serde_yaml_ng::from_str(&r.text).unwrap();
        let parsed: EcsSection = serde_json::from_value(back["ecs"].clone()).unwrap();
        assert_eq!(parsed, ecs());
    }

    #[test]
    fn json_is_parsed_and_written_again() {
        let text = r#"{"cluster": "demo", "codedeploy": {"service_role": "r"}}"#;
        for is_json in [true, false] {
            let r = rewrite(text, is_json, &ecs(), &[]).unwrap();
            assert!(!r.kept_as_written);
            let v: Value = serde_json::from_str(&r.text).unwrap();
            assert!(v.get("codedeploy").is_none());
            assert_eq!(v["ecs"]["strategy"], "BLUE_GREEN");
            assert_eq!(v["cluster"], "demo");
        }
    }
}
