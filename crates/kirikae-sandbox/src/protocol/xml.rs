//! awsQuery answers: the output shape as XML inside `<{Op}Response><{Op}Result>`, lists as
//! `<member>` items, timestamps as ISO-8601; errors as `<ErrorResponse>`.

use bytes::Bytes;
use http::Response;
use quick_xml::escape::escape;
use serde_json::Value;

use super::response;
use crate::model::{Service, ShapeKind};

pub fn encode_output(service: Service, op: &str, output: &Value) -> Response<Bytes> {
    let model = service.model();
    let ns = model.metadata.xml_namespace.as_deref().unwrap_or("");
    let mut xml = format!("<{op}Response xmlns=\"{ns}\">");
    if let Some(out) = model.operation(op).and_then(|o| o.output.as_ref()) {
        let wrapper = out
            .result_wrapper
            .clone()
            .unwrap_or_else(|| format!("{op}Result"));
        xml.push_str(&format!("<{wrapper}>"));
        write_value(service, &out.shape, output, &mut xml);
        xml.push_str(&format!("</{wrapper}>"));
    }
    xml.push_str(&format!(
        "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{op}Response>",
        uuid::Uuid::new_v4()
    ));
    response(200, "text/xml", xml.into_bytes())
}

pub fn encode_error(
    service: Option<Service>,
    code: &str,
    status: u16,
    sender: bool,
    message: &str,
) -> Response<Bytes> {
    let ns = service
        .and_then(|s| s.model().metadata.xml_namespace.as_deref())
        .unwrap_or("");
    let kind = if sender { "Sender" } else { "Receiver" };
    let xml = format!(
        "<ErrorResponse xmlns=\"{ns}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        escape(code),
        escape(message),
        uuid::Uuid::new_v4()
    );
    response(status, "text/xml", xml.into_bytes())
}

fn write_value(service: Service, shape_name: &str, value: &Value, xml: &mut String) {
    let shape = service.model().shape(shape_name);
    match shape.kind {
        ShapeKind::Structure => {
            let Some(obj) = value.as_object() else { return };
            for (name, member) in &shape.members {
                if let Some(v) = obj.get(name).filter(|v| !v.is_null()) {
                    xml.push_str(&format!("<{name}>"));
                    write_value(service, &member.shape, v, xml);
                    xml.push_str(&format!("</{name}>"));
                }
            }
        }
        ShapeKind::List => {
            let member = &shape
                .member
                .as_ref()
                .expect("list shape has a member")
                .shape;
            for item in value.as_array().into_iter().flatten() {
                xml.push_str("<member>");
                write_value(service, member, item, xml);
                xml.push_str("</member>");
            }
        }
        ShapeKind::Map => {
            let v_shape = &shape.value.as_ref().expect("map shape has a value").shape;
            for (k, v) in value.as_object().into_iter().flatten() {
                xml.push_str(&format!("<entry><key>{}</key><value>", escape(k)));
                write_value(service, v_shape, v, xml);
                xml.push_str("</value></entry>");
            }
        }
        ShapeKind::Timestamp => xml.push_str(&iso8601(value)),
        _ => match value {
            Value::String(s) => xml.push_str(&escape(s)),
            other => xml.push_str(&other.to_string()),
        },
    }
}

/// Epoch seconds (how services keep timestamps) as ISO-8601 with milliseconds.
fn iso8601(value: &Value) -> String {
    match value {
        Value::Number(n) => {
            let secs = n.as_f64().unwrap_or(0.0).max(0.0);
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs);
            humantime::format_rfc3339_millis(t).to_string()
        }
        Value::String(s) => escape(s).into_owned(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_become_members_and_timestamps_iso() {
        let out = json!({"TargetGroups": [{"TargetGroupName": "a<b", "Port": 80, "HealthCheckEnabled": true}]});
        let resp = encode_output(Service::Elbv2, "DescribeTargetGroups", &out);
        let body = String::from_utf8(resp.body().to_vec()).unwrap();
        assert!(
            body.contains("<DescribeTargetGroupsResult><TargetGroups><member>"),
            "{body}"
        );
        assert!(
            body.contains("<TargetGroupName>a&lt;b</TargetGroupName>"),
            "{body}"
        );
        assert!(body.contains("<Port>80</Port>"), "{body}");
        assert_eq!(iso8601(&json!(0.5)), "1970-01-01T00:00:00.500Z");
    }
}
