//! Composite alarm rules: `ALARM("a") AND NOT (OK(b) OR INSUFFICIENT_DATA(arn:…:alarm:c))`, `TRUE`,
//! `FALSE`, parentheses. Alarms are named by name (quoted or bare) or by ARN.
//! `AT_LEAST(…)` is not supported (rejected as invalid).

use std::collections::BTreeSet;

#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    Const(bool),
    /// `STATE(alarm)`: true while the alarm is in that state.
    State {
        state: String,
        alarm: String,
    },
    Not(Box<Rule>),
    And(Box<Rule>, Box<Rule>),
    Or(Box<Rule>, Box<Rule>),
}

impl Rule {
    /// Evaluate with `state_of(alarm)` giving each alarm's `StateValue` (`None`: no such alarm, which
    /// matches no state).
    pub fn eval<'s>(&self, state_of: &dyn Fn(&str) -> Option<&'s str>) -> bool {
        match self {
            Rule::Const(b) => *b,
            Rule::State { state, alarm } => state_of(alarm) == Some(state.as_str()),
            Rule::Not(r) => !r.eval(state_of),
            Rule::And(a, b) => a.eval(state_of) && b.eval(state_of),
            Rule::Or(a, b) => a.eval(state_of) || b.eval(state_of),
        }
    }

    /// The names of the alarms the rule refers to.
    pub fn alarm_names(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut BTreeSet<String>) {
        match self {
            Rule::Const(_) => {}
            Rule::State { alarm, .. } => {
                out.insert(alarm.clone());
            }
            Rule::Not(r) => r.collect(out),
            Rule::And(a, b) | Rule::Or(a, b) => {
                a.collect(out);
                b.collect(out);
            }
        }
    }
}

pub fn parse(text: &str) -> Result<Rule, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let rule = p.or()?;
    p.skip_ws();
    if p.i < p.s.len() {
        return Err(format!("unexpected text at position {}", p.i + 1));
    }
    Ok(rule)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    /// The next word (letters, digits, `_`), without consuming it.
    fn peek_word(&mut self) -> String {
        self.skip_ws();
        let end = self.s[self.i..]
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
            .map_or(self.s.len(), |n| self.i + n);
        String::from_utf8_lossy(&self.s[self.i..end]).to_ascii_uppercase()
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.peek_word() == word {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.skip_ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!(
                "expected '{}' at position {}",
                c as char,
                self.i + 1
            ))
        }
    }

    fn or(&mut self) -> Result<Rule, String> {
        let mut left = self.and()?;
        while self.eat_word("OR") {
            left = Rule::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Rule, String> {
        let mut left = self.not()?;
        while self.eat_word("AND") {
            left = Rule::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Rule, String> {
        if self.eat_word("NOT") {
            return Ok(Rule::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Rule, String> {
        self.skip_ws();
        if self.s.get(self.i) == Some(&b'(') {
            self.i += 1;
            let inner = self.or()?;
            self.expect(b')')?;
            return Ok(inner);
        }
        let word = self.peek_word();
        match word.as_str() {
            "TRUE" | "FALSE" => {
                self.i += word.len();
                Ok(Rule::Const(word == "TRUE"))
            }
            "ALARM" | "OK" | "INSUFFICIENT_DATA" => {
                self.i += word.len();
                self.expect(b'(')?;
                let alarm = self.alarm_ref()?;
                self.expect(b')')?;
                Ok(Rule::State { state: word, alarm })
            }
            "" => Err(format!("expected an expression at position {}", self.i + 1)),
            other => Err(format!("unsupported function or keyword {other}")),
        }
    }

    /// `"name"`, `name` or an alarm ARN; ARNs are reduced to the alarm name.
    fn alarm_ref(&mut self) -> Result<String, String> {
        self.skip_ws();
        let raw = if self.s.get(self.i) == Some(&b'"') {
            let start = self.i + 1;
            let len = self.s[start..]
                .iter()
                .position(|&c| c == b'"')
                .ok_or("unterminated quoted alarm name")?;
            self.i = start + len + 1;
            String::from_utf8_lossy(&self.s[start..start + len]).into_owned()
        } else {
            let start = self.i;
            while self.s.get(self.i).is_some_and(|&c| c != b')') {
                self.i += 1;
            }
            String::from_utf8_lossy(&self.s[start..self.i])
                .trim()
                .to_string()
        };
        let name = match raw.strip_prefix("arn:") {
            Some(_) => raw
                .split_once(":alarm:")
                .map(|(_, n)| n.to_string())
                .unwrap_or(raw),
            None => raw,
        };
        if name.is_empty() {
            return Err("empty alarm name".into());
        }
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_evaluates_rules() {
        let r = parse(r#"ALARM("cpu high") AND NOT (OK(mem) OR INSUFFICIENT_DATA(arn:aws:cloudwatch:us-east-1:1:alarm:disk))"#)
            .unwrap();
        assert_eq!(
            r.alarm_names().into_iter().collect::<Vec<_>>(),
            ["cpu high", "disk", "mem"]
        );
        let states = |cpu: &'static str, mem: &'static str| {
            move |n: &str| match n {
                "cpu high" => Some(cpu),
                "mem" => Some(mem),
                _ => None,
            }
        };
        assert!(r.eval(&states("ALARM", "ALARM")));
        assert!(!r.eval(&states("ALARM", "OK")));
        assert!(!r.eval(&states("OK", "ALARM")));
        assert!(parse("TRUE").unwrap().eval(&|_| None));
        assert!(parse("alarm(a) or false").unwrap().eval(&|_| Some("ALARM")));
    }

    #[test]
    fn rejects_malformed_rules() {
        for bad in [
            "",
            "ALARM(",
            "ALARM()",
            "ALARM(a) AND",
            "AT_LEAST(1, ALARM, (a, b))",
            "(TRUE",
            "TRUE FALSE",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
