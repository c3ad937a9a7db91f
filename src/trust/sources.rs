//! Where trust policies live, read into roles for `trust-policy --check`: a
//! policy document; `aws iam get-role`, `list-roles` and
//! `get-account-authorization-details` output (every role of an account);
//! CloudFormation templates, JSON or YAML ([`template`]); and `terraform show
//! -json` plans and state ([`terraform`]). Each role says where its document is
//! in the file, so a finding can name the line.

mod template;
mod terraform;
pub mod tree;

use std::path::Path;

use serde_json::{Value, json};

pub use tree::{Duplicate, Tree, push};

/// Marks a value a template or plan leaves open (a stack parameter, another
/// resource's attribute): `OPEN name CLOSE` stands where its value will be.
pub const OPEN: char = '\u{E000}';
pub const CLOSE: char = '\u{E001}';

/// What kind of file it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Policy,
    GetRole,
    ListRoles,
    AccountDetails,
    CloudFormation,
    Terraform,
}

impl Kind {
    /// Its name in `--format json`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Policy => "policy",
            Kind::GetRole => "get-role",
            Kind::ListRoles => "list-roles",
            Kind::AccountDetails => "account-authorization-details",
            Kind::CloudFormation => "cloudformation",
            Kind::Terraform => "terraform",
        }
    }
}

/// One role's trust policy, as a file holds it.
#[derive(Debug, Clone)]
pub struct Role {
    /// How findings name it; none for a bare policy document.
    pub name: Option<String>,
    /// Its ARN, when the file says (the fixes name its account).
    pub arn: Option<String>,
    /// The JSON pointer of its policy document in the file.
    pub at: String,
    /// The document, decoded when the file holds it as a string.
    pub document: Value,
    /// The document was a string in the file: its inside has no lines of its own.
    pub embedded: bool,
    /// Keys the document repeats.
    pub duplicates: Vec<Duplicate>,
    /// Why the document cannot be judged at all (a plan's "known after apply").
    pub unknown: Option<String>,
    /// The defaults a template gives the values it leaves open: what a stack
    /// deployed without them has.
    pub defaults: Vec<(String, String)>,
}

impl Role {
    fn new(name: Option<String>, at: String, document: &Value, tree: &Tree) -> Role {
        let mut role = Role {
            name,
            arn: None,
            at,
            document: Value::Null,
            embedded: false,
            duplicates: Vec::new(),
            unknown: None,
            defaults: Vec::new(),
        };
        match document {
            Value::String(text) => {
                role.embedded = true;
                match decode(text) {
                    Ok(inner) => {
                        role.duplicates = inner.duplicates;
                        role.document = inner.value;
                    }
                    Err(why) => role.unknown = Some(format!("its document is not JSON ({why})")),
                }
            }
            other => {
                role.document = other.clone();
                let inside = format!("{}/", role.at);
                role.duplicates = tree
                    .duplicates
                    .iter()
                    .filter(|d| d.at == role.at || d.at.starts_with(&inside))
                    .cloned()
                    .collect();
            }
        }
        role
    }

    /// What the checker reads: the document, with the role's ARN when known.
    pub fn policy(&self) -> Value {
        match &self.arn {
            Some(arn) => {
                json!({ "Role": { "Arn": arn, "AssumeRolePolicyDocument": self.document } })
            }
            None => self.document.clone(),
        }
    }

    /// The line in the file of `at`, a pointer inside the document.
    pub fn line(&self, tree: &Tree, at: &str) -> Option<usize> {
        match self.embedded {
            true => tree.line(&self.at),
            false => tree.line(&format!("{}{at}", self.at)),
        }
    }
}

/// A policy document held as a string: JSON, or JSON URL-encoded (the IAM API's form).
fn decode(text: &str) -> Result<Tree, String> {
    Tree::json(text).or_else(|e| Tree::json(&super::policy::percent_decode(text)).map_err(|_| e))
}

/// The file read: JSON by its name or its look, else YAML.
pub fn parse(path: &Path, text: &str) -> Result<Tree, String> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("json") => Tree::json(text).map_err(|e| format!("is not JSON ({e})")),
        Some("yaml" | "yml") => Tree::yaml(text).map_err(|e| format!("is not YAML ({e})")),
        _ if text.trim_start().starts_with(['{', '[']) => {
            Tree::json(text).map_err(|e| format!("is not JSON ({e})"))
        }
        _ => Tree::yaml(text).map_err(|e| format!("is neither JSON nor YAML ({e})")),
    }
}

/// The roles the file holds, and what kind of file it is; Err when it holds
/// no trust policy in any form this reads.
pub fn roles(tree: &Tree) -> Result<(Kind, Vec<Role>), String> {
    let top = &tree.value;
    let has = |key: &str| top.get(key).is_some();
    if top.get("Resources").is_some_and(Value::is_object) {
        return Ok((Kind::CloudFormation, template::roles(tree)));
    }
    if has("format_version") && (has("planned_values") || has("values") || has("resource_changes"))
    {
        return Ok((Kind::Terraform, terraform::roles(tree)));
    }
    for (key, kind) in [
        ("RoleDetailList", Kind::AccountDetails),
        ("Roles", Kind::ListRoles),
    ] {
        if let Some(Value::Array(all)) = top.get(key) {
            let roles = all
                .iter()
                .enumerate()
                .filter(|(_, role)| role.get("AssumeRolePolicyDocument").is_some())
                .map(|(index, role)| iam_role(tree, role, &format!("/{key}/{index}")))
                .collect();
            return Ok((kind, roles));
        }
    }
    if let Some(role) = top.get("Role").filter(|role| role.is_object()) {
        return Ok((Kind::GetRole, vec![iam_role(tree, role, "/Role")]));
    }
    if has("AssumeRolePolicyDocument") {
        return Ok((Kind::GetRole, vec![iam_role(tree, top, "")]));
    }
    if has("Statement") {
        return Ok((
            Kind::Policy,
            vec![Role::new(None, String::new(), top, tree)],
        ));
    }
    Err(
        "holds no trust policy: it is none of a policy document (\"Statement\"), aws iam \
         get-role, list-roles or get-account-authorization-details output, a CloudFormation \
         template (\"Resources\") or terraform show -json output"
            .into(),
    )
}

/// A role as the IAM API describes it.
fn iam_role(tree: &Tree, role: &Value, at: &str) -> Role {
    let text = |key: &str| role.get(key).and_then(Value::as_str).map(str::to_string);
    let name = text("RoleName")
        .or_else(|| text("Arn"))
        .map(|n| format!("role {n}"));
    let document = &role["AssumeRolePolicyDocument"];
    let mut found = Role::new(
        name,
        format!("{at}/AssumeRolePolicyDocument"),
        document,
        tree,
    );
    found.arn = text("Arn");
    found
}

/// Replaces each open value's mark with what `with` makes of its name.
pub fn fill(value: &Value, with: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(text) if text.contains(OPEN) => {
            let mut out = String::new();
            let mut rest = text.as_str();
            while let Some(start) = rest.find(OPEN) {
                out.push_str(&rest[..start]);
                let after = &rest[start + OPEN.len_utf8()..];
                let (name, tail) = after.split_once(CLOSE).unwrap_or((after, ""));
                out.push_str(&with(name));
                rest = tail;
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(all) => Value::Array(all.iter().map(|v| fill(v, with)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, v)| (fill(&Value::String(key.clone()), with), fill(v, with)))
                .map(|(key, v)| (key.as_str().unwrap_or_default().to_string(), v))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The names of the open values in `value`, each once, in order.
pub fn open_names(value: &Value) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    collect(value, &mut names);
    names
}

fn collect(value: &Value, names: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            for piece in text.split(OPEN).skip(1) {
                let name = piece.split(CLOSE).next().unwrap_or_default().to_string();
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        Value::Array(all) => all.iter().for_each(|v| collect(v, names)),
        Value::Object(map) => map.iter().for_each(|(key, v)| {
            collect(&Value::String(key.clone()), names);
            collect(v, names);
        }),
        _ => {}
    }
}

/// An open value's mark.
pub fn mark(name: &str) -> String {
    format!("{OPEN}{name}{CLOSE}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str, text: &str) -> (Kind, Vec<Role>) {
        use super::roles;
        roles(&parse(Path::new(name), text).unwrap()).unwrap()
    }

    #[test]
    fn a_file_is_json_by_its_name_or_its_look_and_yaml_otherwise() {
        let parsed = |name: &str, text: &str| parse(Path::new(name), text).map(|tree| tree.value);
        // YAML that is no JSON, in a file named .json: the name decides.
        assert!(
            parsed("p.json", "a: 1")
                .unwrap_err()
                .starts_with("is not JSON (")
        );
        assert_eq!(
            parsed("p.yml", "a: 1").unwrap(),
            serde_json::json!({ "a": 1 })
        );
        // YAML that looks like JSON, named .yaml: YAML still.
        assert_eq!(
            parsed("p.yaml", "{a: 1}").unwrap(),
            serde_json::json!({ "a": 1 })
        );
        // No telling name: broken JSON is said to be JSON, other text read as YAML.
        assert!(
            parsed("policy", " {\"a\": }")
                .unwrap_err()
                .starts_with("is not JSON (")
        );
        assert_eq!(
            parsed("policy", "a: [1]").unwrap(),
            serde_json::json!({ "a": [1] })
        );
        assert!(
            parsed("policy", "a: [1")
                .unwrap_err()
                .starts_with("is neither JSON nor YAML (")
        );
    }

    #[test]
    fn a_terraform_file_has_its_format_version_and_its_values() {
        use super::roles;
        let kind =
            |text: &str| roles(&parse(Path::new("t.json"), text).unwrap()).map(|(kind, _)| kind);
        assert!(matches!(
            kind(r#"{"format_version": "1.2", "values": {}}"#),
            Ok(Kind::Terraform)
        ));
        for not_terraform in [
            r#"{"format_version": "1.2"}"#,
            r#"{"values": {}}"#,
            r#"{"planned_values": {}}"#,
        ] {
            assert!(
                !matches!(kind(not_terraform), Ok(Kind::Terraform)),
                "{not_terraform}"
            );
        }
    }

    #[test]
    fn the_iam_apis_outputs_are_roles_with_their_names_and_arns() {
        let document =
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}"#;
        let details = format!(
            r#"{{"RoleDetailList":[{{"RoleName":"a","Arn":"arn:aws:iam::1:role/a","AssumeRolePolicyDocument":{document}}},
               {{"RoleName":"b","AssumeRolePolicyDocument":"{}"}}], "UserDetailList": []}}"#,
            document.replace('"', "%22")
        );
        let (kind, found) = read("account.json", &details);
        assert_eq!(kind, Kind::AccountDetails);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].name.as_deref(), Some("role a"));
        assert_eq!(found[0].at, "/RoleDetailList/0/AssumeRolePolicyDocument");
        assert_eq!(found[0].policy()["Role"]["Arn"], "arn:aws:iam::1:role/a");
        assert!(found[1].embedded);
        assert_eq!(found[1].document["Statement"][0]["Principal"], "*");
        let (kind, found) = read(
            "role.json",
            &format!(r#"{{"Role":{{"RoleName":"r","AssumeRolePolicyDocument":{document}}}}}"#),
        );
        assert_eq!((kind, found.len()), (Kind::GetRole, 1));
        let (kind, found) = read("p.json", document);
        assert_eq!((kind, found[0].name.clone()), (Kind::Policy, None));
        assert!(roles(&Tree::json("[1]").unwrap()).is_err());
        assert!(parse(Path::new("x.json"), "{").is_err());
    }

    #[test]
    fn open_values_are_marked_filled_and_named() {
        let value = json!({ format!("{}:sub", mark("Issuer")): [format!("repo:{}/{}:*", mark("Org"), mark("Repo"))] });
        assert_eq!(open_names(&value), ["Issuer", "Org", "Repo"]);
        assert_eq!(
            fill(&value, &|name| format!("${{{name}}}")),
            json!({ "${Issuer}:sub": ["repo:${Org}/${Repo}:*"] })
        );
    }
}
