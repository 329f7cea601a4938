//! Templating of every input file before it is parsed: `{{ env "NAME" "default" }}` and
//! `{{ must_env "NAME" }}` (the helper syntax ecspresso users know), rendered with handlebars in strict mode
//! and without HTML escaping (these are YAML and JSON files, not web pages).

use std::path::Path;

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason,
};

use crate::error::ConfigError;

/// Where environment variables come from: the process environment, or a map in tests.
pub type EnvLookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// A marker at the start of a must_env failure message, so the error can be recognised and reported
/// with the variable name rather than handlebars' generic wording.
const MUST_ENV_UNSET: &str = "must_env: unset variable ";

/// Renders templates with the `env` / `must_env` helpers.
pub struct Templater {
    hb: Handlebars<'static>,
}

impl Templater {
    pub fn new(lookup: std::sync::Arc<EnvLookup>) -> Self {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        let env_lookup = lookup.clone();
        hb.register_helper(
            "env",
            Box::new(
                move |h: &Helper,
                      _: &Handlebars,
                      _: &Context,
                      _: &mut RenderContext,
                      out: &mut dyn Output|
                      -> HelperResult {
                    let name = string_param(h, 0, "env")?;
                    let value = match env_lookup(&name) {
                        Some(v) => v,
                        None => match h.param(1) {
                            Some(p) => p
                                .value()
                                .as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| p.value().to_string()),
                            None => String::new(),
                        },
                    };
                    out.write(&value)?;
                    Ok(())
                },
            ),
        );
        hb.register_helper(
            "must_env",
            Box::new(
                move |h: &Helper,
                      _: &Handlebars,
                      _: &Context,
                      _: &mut RenderContext,
                      out: &mut dyn Output|
                      -> HelperResult {
                    let name = string_param(h, 0, "must_env")?;
                    match lookup(&name) {
                        Some(v) => {
                            out.write(&v)?;
                            Ok(())
                        }
                        None => {
                            Err(RenderErrorReason::Other(format!("{MUST_ENV_UNSET}{name}")).into())
                        }
                    }
                },
            ),
        );
        Templater { hb }
    }

    /// The process environment.
    pub fn from_process_env() -> Self {
        Self::new(std::sync::Arc::new(|name: &str| std::env::var(name).ok()))
    }

    /// Renders `text` (the content of `file`).
    pub fn render(&self, file: &Path, text: &str) -> Result<String, ConfigError> {
        // Fast path: nothing to template (and no risk of tripping on braces in data).
        if !text.contains("{{") {
            return Ok(text.to_string());
        }
        self.hb
            .render_template(text, &())
            .map_err(|e| describe(file, text, &e))
    }
}

fn string_param(h: &Helper, index: usize, helper: &str) -> Result<String, RenderError> {
    match h.param(index).map(|p| p.value()) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        _ => Err(RenderErrorReason::Other(format!(
            "{helper} needs a quoted variable name, e.g. {{{{ {helper} \"NAME\" }}}}"
        ))
        .into()),
    }
}

/// Turns a handlebars error into one that names the file, the line, the field on that line and the
/// variable, with a hint.
fn describe(file: &Path, text: &str, e: &RenderError) -> ConfigError {
    let reason = e.reason().to_string();
    let line = e.line_no;
    let field = line.and_then(|n| field_on_line(text, n));
    let at = match (line, &field) {
        (Some(n), Some(f)) => format!("{f} (line {n})"),
        (Some(n), None) => format!("line {n}"),
        _ => String::new(),
    };
    if let Some(var) = reason.split(MUST_ENV_UNSET).nth(1) {
        return ConfigError::in_file(
            file,
            format!("environment variable {var} is not set (must_env)"),
        )
        .field(at)
        .hint(format!(
            "export {var}=… before running, or use {{{{ env \"{var}\" \"default\" }}}}"
        ));
    }
    ConfigError::in_file(file, format!("template error: {reason}"))
        .field(at)
        .hint("templates support {{ env \"NAME\" \"default\" }} and {{ must_env \"NAME\" }}; quote the names")
}

/// Best effort: the key whose value holds the template on `line` (1-based), for YAML (`key: …`) and JSON
/// (`"key": …`).
fn field_on_line(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let before = &l[..l.find("{{").unwrap_or(l.len())];
    // JSON: the last quoted key, `"key":`, before the template.
    let json_key = before.match_indices(':').rev().find_map(|(i, _)| {
        let head = before[..i].trim_end();
        let head = head.strip_suffix('"')?;
        let start = head.rfind('"')?;
        Some(head[start + 1..].to_string())
    });
    if let Some(k) = json_key.filter(|k| !k.is_empty()) {
        return Some(k);
    }
    // YAML: `key: value` (also `- key: value`).
    let t = before.trim_start().trim_start_matches("- ");
    let colon = t
        .find(": ")
        .or_else(|| t.trim_end().ends_with(':').then(|| t.trim_end().len() - 1))?;
    let key = t[..colon].trim().trim_matches('"').trim_matches('\'');
    (!key.is_empty()).then(|| key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn templater(vars: &[(&str, &str)]) -> Templater {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Templater::new(Arc::new(move |k: &str| map.get(k).cloned()))
    }

    #[test]
    fn env_with_default_and_must_env() {
        let t = templater(&[("TAG", "v2")]);
        let out = t
            .render(Path::new("f.yml"), "image: kirikae/demo:{{ env \"TAG\" \"v1\" }}\nx: {{ env \"NOPE\" \"d\" }}\ny: {{ must_env \"TAG\" }}")
            .unwrap();
        assert_eq!(out, "image: kirikae/demo:v2\nx: d\ny: v2");
    }

    #[test]
    fn the_field_is_found_on_json_and_yaml_lines() {
        let json = r#"  "containerDefinitions": [{"name": "web", "image": "kirikae/demo:{{ x }}"#;
        assert_eq!(field_on_line(json, 1).as_deref(), Some("image"));
        assert_eq!(
            field_on_line("  - url: https://x/{{ y }}", 1).as_deref(),
            Some("url")
        );
        assert_eq!(
            field_on_line("cluster: '{{ z }}'", 1).as_deref(),
            Some("cluster")
        );
    }

    #[test]
    fn no_html_escaping() {
        let t = templater(&[("URL", "https://x/?a=1&b=<2>\"")]);
        assert_eq!(
            t.render(Path::new("f"), "{{ env \"URL\" }}").unwrap(),
            "https://x/?a=1&b=<2>\""
        );
    }

    #[test]
    fn unset_must_env_names_file_line_field_and_variable() {
        let t = templater(&[]);
        let e = t
            .render(
                Path::new("task.json"),
                "{\n  \"image\": \"{{ must_env \"IMAGE\" }}\"\n}",
            )
            .unwrap_err();
        assert_eq!(e.source, "task.json");
        assert_eq!(e.field.as_deref(), Some("image (line 2)"));
        assert!(e.message.contains("IMAGE is not set"), "{e}");
    }

    #[test]
    fn unknown_helper_or_variable_is_an_error() {
        let t = templater(&[]);
        let e = t
            .render(Path::new("k.yml"), "cluster: {{ clusterName }}")
            .unwrap_err();
        assert!(e.message.starts_with("template error"), "{e}");
        assert_eq!(e.field.as_deref(), Some("cluster (line 1)"));
    }

    #[test]
    fn single_quoted_names_keep_json_files_valid_json() {
        let t = templater(&[("TAG", "v2")]);
        let out = t
            .render(
                Path::new("td.json"),
                r#"{"image": "kirikae/demo:{{ env 'TAG' 'v1' }}", "x": "{{ env 'NOPE' 'd' }}"}"#,
            )
            .unwrap();
        assert_eq!(out, r#"{"image": "kirikae/demo:v2", "x": "d"}"#);
    }
}
