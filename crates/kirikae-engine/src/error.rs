//! The engine's errors. Two families, because they mean different things to the person at the terminal:
//! a [`ConfigError`] says "fix your input, nothing in AWS was changed"; an [`Error::Aws`] says "AWS refused
//! or failed something while we were working".

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem with an input (a file, a flag, the environment), found before anything in AWS was changed.
/// It always names where the problem is: the file (or flag) and, when it can, the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, or a pseudo-source such as `--image` for a flag.
    pub source: String,
    /// Path of the offending field inside the source, e.g. `containerDefinitions[0].image`.
    pub field: Option<String>,
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl ConfigError {
    pub fn new(source: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            source: source.into(),
            field: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn in_file(file: &Path, message: impl Into<String>) -> Self {
        Self::new(file.display().to_string(), message)
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        let field = field.into();
        self.field = if field.is_empty() { None } else { Some(field) };
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Everything that can stop a deploy before it has an outcome of its own.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input; nothing in AWS was changed.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// An AWS call failed (after the SDK's retries). `code` is the modeled error code when AWS sent one.
    #[error("{operation}: {message}{}", hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    Aws {
        operation: &'static str,
        code: Option<String>,
        message: String,
        hint: Option<String>,
    },
    /// The state in AWS forbids the deploy right now (e.g. another deployment is active); nothing was
    /// changed.
    #[error("{message}{}", hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    Conflict {
        message: String,
        hint: Option<String>,
    },
}

impl Error {
    /// Whether nothing at all was changed in AWS before this error: config errors are found first.
    pub fn is_config(&self) -> bool {
        matches!(self, Error::Config(_))
    }
}

/// Shortcut for a file path in messages.
pub fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// A path relative to the config file's directory, as written in the config.
pub fn resolve_relative(base_dir: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_error_names_file_field_and_hint() {
        let e = ConfigError::new("kirikae.yml", "unknown key `clustr`")
            .field("clustr")
            .hint("did you mean `cluster`?");
        assert_eq!(
            e.to_string(),
            "kirikae.yml: clustr: unknown key `clustr`\n  hint: did you mean `cluster`?"
        );
    }
}
