//! AWS enums stay the SDK's types inside the engine; they become their wire strings only when
//! serialised (JSON output, webhooks, `--dry-run`), with these `serialize_with` helpers.

pub fn str<S: serde::Serializer, T: AsRef<str>>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.as_ref())
}

pub fn opt<S: serde::Serializer, T: AsRef<str>>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(v.as_ref()),
        None => s.serialize_none(),
    }
}

pub fn list<S: serde::Serializer, T: AsRef<str>>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for item in v {
        seq.serialize_element(item.as_ref())?;
    }
    seq.end()
}
