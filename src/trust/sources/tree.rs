//! A file as `trust-policy --check` reads it: JSON or YAML into one JSON value,
//! with the line each value starts on (for findings and SARIF locations), the
//! keys a mapping repeats (serde_json, like IAM, keeps the last: the first is
//! silently lost), and YAML's short-form CloudFormation intrinsics (`!Sub x`)
//! written out in their long form (`{"Fn::Sub": x}`), as CloudFormation reads them.
//!
//! Neither format is parsed here: serde_json reads the JSON (each object once
//! more through a visitor that sees every key, with its text borrowed from the
//! file, which says where it is), saphyr's event parser the YAML.

use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

/// A parsed file.
#[derive(Debug, Default)]
pub struct Tree {
    pub value: Value,
    /// JSON pointer (RFC 6901) → the 1-based line its value starts on.
    lines: HashMap<String, usize>,
    pub duplicates: Vec<Duplicate>,
}

/// A key a mapping has twice: the earlier value is lost.
#[derive(Debug, Clone, PartialEq)]
pub struct Duplicate {
    /// The mapping's JSON pointer.
    pub at: String,
    pub key: String,
    /// Where the lost value and the kept one start.
    pub lost: usize,
    pub kept: usize,
    /// The lost value, compact.
    pub lost_value: String,
}

impl Tree {
    /// JSON, as serde_json reads it.
    pub fn json(text: &str) -> Result<Tree, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut tree = Tree {
            value,
            ..Tree::default()
        };
        let raw: &RawValue = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let starts = line_starts(text);
        tree.walk_json(text, &starts, raw, String::new())
            .map_err(|e| e.to_string())?;
        Ok(tree)
    }

    fn walk_json(
        &mut self,
        text: &str,
        starts: &[usize],
        raw: &RawValue,
        at: String,
    ) -> Result<(), serde_json::Error> {
        let json = raw.get();
        let offset = json.as_ptr() as usize - text.as_ptr() as usize;
        let line = starts.partition_point(|start| *start <= offset);
        self.lines.insert(at.clone(), line);
        match json.as_bytes().first() {
            Some(b'{') => {
                let Entries(entries) = serde_json::from_str(json)?;
                let mut seen: HashMap<&str, (usize, &RawValue)> = HashMap::new();
                for (key, value) in &entries {
                    let value_line = line_of(text, starts, value);
                    if let Some((lost, lost_value)) = seen.insert(key, (value_line, value)) {
                        self.duplicates.push(Duplicate {
                            at: at.clone(),
                            key: key.clone(),
                            lost,
                            kept: value_line,
                            lost_value: compact(lost_value.get()),
                        });
                    }
                }
                for (key, value) in entries {
                    self.walk_json(text, starts, value, push(&at, &key))?;
                }
            }
            Some(b'[') => {
                let items: Vec<&RawValue> = serde_json::from_str(json)?;
                for (index, item) in items.into_iter().enumerate() {
                    self.walk_json(text, starts, item, push(&at, &index.to_string()))?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// YAML (1.2; the first document of the stream), CloudFormation's short forms read.
    pub fn yaml(text: &str) -> Result<Tree, String> {
        let mut builder = Yaml {
            parser: saphyr_parser::Parser::new_from_str(text),
            tree: Tree::default(),
            anchors: HashMap::new(),
        };
        let value = loop {
            let (event, line) = builder.next()?;
            match event {
                Event::StreamStart | Event::DocumentStart(_) => continue,
                Event::StreamEnd => break Value::Null,
                event => break builder.node(event, line, String::new())?,
            }
        };
        let mut tree = builder.tree;
        tree.value = value;
        Ok(tree)
    }

    /// The line of the value at `at`, or of the nearest enclosing value that has one.
    pub fn line(&self, at: &str) -> Option<usize> {
        let mut at = at;
        loop {
            if let Some(line) = self.lines.get(at) {
                return Some(*line);
            }
            at = &at[..at.rfind('/')?];
        }
    }
}

/// `at` with one more reference token, escaped as RFC 6901 has it.
pub fn push(at: &str, token: &str) -> String {
    format!("{at}/{}", token.replace('~', "~0").replace('/', "~1"))
}

/// Where each line starts, lines broken as YAML and editors break them: at
/// `\n`, `\r\n` or a lone `\r`.
fn line_starts(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    std::iter::once(0)
        .chain(bytes.iter().enumerate().filter_map(|(at, byte)| {
            let breaks = *byte == b'\n' || (*byte == b'\r' && bytes.get(at + 1) != Some(&b'\n'));
            breaks.then_some(at + 1)
        }))
        .collect()
}

fn line_of(text: &str, starts: &[usize], raw: &RawValue) -> usize {
    let offset = raw.get().as_ptr() as usize - text.as_ptr() as usize;
    starts.partition_point(|start| *start <= offset)
}

fn compact(json: &str) -> String {
    serde_json::from_str::<Value>(json)
        .map(|value| value.to_string())
        .unwrap_or_else(|_| json.to_string())
}

/// An object's members in order, repeated keys and all, each value's text
/// borrowed from the file.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Entries<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut all = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    all.push(entry);
                }
                Ok(Entries(all))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

// ── YAML ────────────────────────────────────────────────────────────────────

use saphyr_parser::{Event, ScalarStyle, Tag};

struct Yaml<'input> {
    parser: saphyr_parser::Parser<'input, saphyr_parser::StrInput<'input>>,
    tree: Tree,
    anchors: HashMap<usize, Value>,
}

impl<'input> Yaml<'input> {
    fn next(&mut self) -> Result<(Event<'input>, usize), String> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => Ok((event, span.start.line())),
            Some(Err(e)) => Err(e.to_string()),
            None => Ok((Event::StreamEnd, 0)),
        }
    }

    fn node(&mut self, event: Event<'input>, line: usize, at: String) -> Result<Value, String> {
        self.tree.lines.insert(at.clone(), line);
        let (value, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => (
                tagged(tag.as_deref(), scalar(&text, style, tag.as_deref())),
                anchor,
            ),
            Event::SequenceStart(anchor, tag) => {
                let mut items = Vec::new();
                loop {
                    let (event, line) = self.next()?;
                    match event {
                        Event::SequenceEnd => break,
                        Event::StreamEnd => return Err("the file ends inside a list".into()),
                        event => {
                            let at = push(&at, &items.len().to_string());
                            items.push(self.node(event, line, at)?);
                        }
                    }
                }
                (tagged(tag.as_deref(), Value::Array(items)), anchor)
            }
            Event::MappingStart(anchor, tag) => {
                let mut map = Map::new();
                let mut lines: HashMap<String, usize> = HashMap::new();
                loop {
                    let (event, key_line) = self.next()?;
                    let key = match event {
                        Event::MappingEnd => break,
                        Event::StreamEnd => return Err("the file ends inside a mapping".into()),
                        event => match self.node(event, key_line, format!("{at}/#key"))? {
                            Value::String(key) => key,
                            // JSON, and so IAM and CloudFormation, have text keys only (and a
                            // key written as its nested keys' JSON grows twice as long a level).
                            Value::Array(_) | Value::Object(_) => {
                                return Err(format!(
                                    "line {key_line}: a key is a mapping or a list; \
                                     IAM policies and CloudFormation templates take text keys only"
                                ));
                            }
                            other => other.to_string(),
                        },
                    };
                    let (event, line) = self.next()?;
                    let value = self.node(event, line, push(&at, &key))?;
                    // A finding about a key is on the key's line.
                    self.tree.lines.insert(push(&at, &key), key_line);
                    if let Some(lost) = map.get(&key) {
                        self.tree.duplicates.push(Duplicate {
                            at: at.clone(),
                            key: key.clone(),
                            lost: lines.get(&key).copied().unwrap_or(key_line),
                            kept: key_line,
                            lost_value: lost.to_string(),
                        });
                    }
                    lines.insert(key.clone(), key_line);
                    map.insert(key, value);
                }
                self.tree.lines.remove(&format!("{at}/#key"));
                (tagged(tag.as_deref(), Value::Object(map)), anchor)
            }
            Event::Alias(anchor) => (self.anchors.get(&anchor).cloned().unwrap_or_default(), 0),
            _ => (Value::Null, 0),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        Ok(value)
    }
}

/// A plain scalar as YAML 1.2's core schema reads it; a quoted one, or one
/// tagged (`!!str`, `!Sub`), is a string.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if style != ScalarStyle::Plain || tag.is_some() {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    // A leading zero keeps its text (an account ID, a version): not a number here.
    let integer = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if integer && let Ok(n) = text.parse::<i64>() {
        return Value::Number(n.into());
    }
    if integer && let Ok(n) = text.parse::<u64>() {
        return Value::Number(n.into());
    }
    let float = text.contains(['.', 'e', 'E'])
        && digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    if float && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

/// CloudFormation's short forms: `!Ref x` is `{"Ref": x}`, `!GetAtt a.b`
/// `{"Fn::GetAtt": ["a", "b"]}`, `!Condition c` `{"Condition": c}`, any other
/// `!Name x` `{"Fn::Name": x}`.
fn tagged(tag: Option<&Tag>, value: Value) -> Value {
    let Some(tag) = tag.filter(|tag| tag.handle == "!" && !tag.suffix.is_empty()) else {
        return value;
    };
    let name = tag.suffix.as_str();
    let mut wrapped = Map::new();
    match name {
        "Ref" | "Condition" => {
            wrapped.insert(name.to_string(), value);
        }
        "GetAtt" => {
            let value = match value {
                Value::String(text) => match text.split_once('.') {
                    Some((resource, attribute)) => {
                        Value::Array(vec![resource.into(), attribute.into()])
                    }
                    None => Value::String(text),
                },
                other => other,
            };
            wrapped.insert("Fn::GetAtt".into(), value);
        }
        _ => {
            wrapped.insert(format!("Fn::{name}"), value);
        }
    }
    Value::Object(wrapped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_lines_and_the_keys_a_mapping_repeats() {
        let text = "{\n  \"Statement\": [\n    {\n      \"Condition\": {\n        \"StringLike\": {\"a:sub\": \"x\"},\n        \"StringLike\": {\"a:aud\": \"y\"}\n      }\n    }\n  ]\n}\n";
        let tree = Tree::json(text).unwrap();
        assert_eq!(
            tree.value["Statement"][0]["Condition"],
            json!({ "StringLike": { "a:aud": "y" } })
        );
        assert_eq!(tree.line(""), Some(1));
        assert_eq!(tree.line("/Statement/0"), Some(3));
        assert_eq!(
            tree.line("/Statement/0/Condition/StringLike/a:aud"),
            Some(6)
        );
        assert_eq!(
            tree.line("/Statement/0/Condition/StringLike/nothing"),
            Some(6)
        );
        assert_eq!(
            tree.duplicates,
            [Duplicate {
                at: "/Statement/0/Condition".into(),
                key: "StringLike".into(),
                lost: 5,
                kept: 6,
                lost_value: r#"{"a:sub":"x"}"#.into(),
            }]
        );
        assert!(Tree::json("{\"a\": }").is_err());
        // Old Mac and Windows line ends count as YAML counts them.
        for (text, breaks) in [
            ("{\r\"a\":\r{\"b\": 1}}", "\r"),
            ("{\r\n\"a\":\r\n{\"b\": 1}}", "\r\n"),
        ] {
            assert_eq!(
                Tree::json(text).unwrap().line("/a/b"),
                Some(3),
                "{breaks:?}"
            );
            let yaml = format!("x: 0{breaks}a:{breaks}  b: 1{breaks}");
            assert_eq!(Tree::yaml(&yaml).unwrap().line("/a/b"), Some(3), "{yaml:?}");
        }
        assert_eq!(push("/a", "x/y~z"), "/a/x~1y~0z");
    }

    #[test]
    fn yaml_short_forms_are_cloudformations_long_ones() {
        let text = "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      Account: 012345678901\n      Count: 3\n      Arn: !GetAtt Provider.Arn\n      Sub: !Sub 'repo:${Org}/app:*'\n      If: !If [Create, !Ref Provider, !Ref AWS::NoValue]\n      Anchor: &a {x: 1}\n      Alias: *a\n      Role: x\n      Role: y\n";
        let tree = Tree::yaml(text).unwrap();
        let properties = &tree.value["Resources"]["Role"]["Properties"];
        assert_eq!(properties["Account"], "012345678901");
        assert_eq!(properties["Count"], 3);
        // YAML 1.2's core schema: plain scalars are typed, quoted ones are text.
        let typed =
            Tree::yaml("a: true\nb: 1.5\nc: '3'\nd: \"true\"\ne: 1.5.1\nf: False\n").unwrap();
        assert_eq!(
            typed.value,
            json!({ "a": true, "b": 1.5, "c": "3", "d": "true", "e": "1.5.1", "f": false })
        );
        assert_eq!(
            properties["Arn"],
            json!({ "Fn::GetAtt": ["Provider", "Arn"] })
        );
        assert_eq!(properties["Sub"], json!({ "Fn::Sub": "repo:${Org}/app:*" }));
        assert_eq!(
            properties["If"],
            json!({ "Fn::If": ["Create", { "Ref": "Provider" }, { "Ref": "AWS::NoValue" }] })
        );
        assert_eq!(properties["Alias"], json!({ "x": 1 }));
        assert_eq!(properties["Role"], "y");
        assert_eq!(tree.line("/Resources/Role/Properties/Sub"), Some(8));
        assert_eq!(tree.duplicates.len(), 1);
        assert_eq!((tree.duplicates[0].lost, tree.duplicates[0].kept), (12, 13));
        assert!(Tree::yaml("a: [1, 2").is_err());
        // A key that is a mapping or a list: no JSON has one (and nested ones grew the key exponentially).
        for text in [
            "{[a]: 1}",
            "? {a: 1}\n: 2\n",
            &format!("{}{}", "{".repeat(40), "}".repeat(40)),
        ] {
            let err = Tree::yaml(text).unwrap_err();
            assert!(err.ends_with(": a key is a mapping or a list; IAM policies and CloudFormation templates take text keys only"), "{err}");
        }
        assert_eq!(
            Tree::yaml("{1: a, true: b, ~: c}").unwrap().value,
            json!({"1": "a", "true": "b", "null": "c"})
        );
    }
}
