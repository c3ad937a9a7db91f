//! CloudFormation templates (and CDK's and SAM's, which are templates too): each
//! resource with an `AssumeRolePolicyDocument` (`AWS::IAM::Role`), its
//! intrinsics resolved as far as the template alone says — the pseudo
//! parameters that do not change which tokens are admitted, an
//! `AWS::IAM::OIDCProvider` of the template (its ARN is its URL's), `Fn::Join`,
//! `Fn::Select`, `Fn::FindInMap` over literal keys, `Fn::If` whose branches are
//! both values — and everything else (a stack parameter, another resource's
//! attribute, an import) left open and marked ([`super::mark`]): the checker
//! judges what holds whatever the deployer passes, and says what depends on it.

use serde_json::{Map, Value};

use super::{Role, Tree, mark};

pub fn roles(tree: &Tree) -> Vec<Role> {
    let top = &tree.value;
    let empty = Map::new();
    let section = |name: &str| top.get(name).and_then(Value::as_object).unwrap_or(&empty);
    let template = Template {
        parameters: section("Parameters"),
        resources: section("Resources"),
        mappings: section("Mappings"),
    };
    let mut roles = Vec::new();
    for (id, resource) in template.resources {
        let Some(document) = resource
            .get("Properties")
            .and_then(|p| p.get("AssumeRolePolicyDocument"))
        else {
            continue;
        };
        let kind = resource["Type"].as_str().unwrap_or("resource");
        let at = super::push(&super::push("/Resources", id), "Properties");
        let at = super::push(&at, "AssumeRolePolicyDocument");
        let resolved = template.resolve(document).unwrap_or(Value::Null);
        let mut role = Role::new(Some(format!("{id} ({kind})")), at, &resolved, tree);
        role.defaults = template
            .parameters
            .iter()
            .filter_map(|(name, parameter)| {
                let default = match parameter.get("Default")? {
                    Value::String(text) => text.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return None,
                };
                Some((name.clone(), default))
            })
            .collect();
        if !role.document.is_object() {
            role.unknown = Some(format!(
                "its AssumeRolePolicyDocument is {}, which the template alone does not resolve",
                compact(document)
            ));
        }
        roles.push(role);
    }
    roles
}

struct Template<'a> {
    parameters: &'a Map<String, Value>,
    resources: &'a Map<String, Value>,
    mappings: &'a Map<String, Value>,
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    match text.chars().count() > 120 {
        true => format!("{}…", text.chars().take(120).collect::<String>()),
        false => text,
    }
}

impl Template<'_> {
    /// The value with its intrinsics resolved or marked open; None for
    /// `AWS::NoValue` (the key or list item is left out).
    fn resolve(&self, value: &Value) -> Option<Value> {
        match value {
            Value::Object(map) if map.len() == 1 => {
                let (name, argument) = map.iter().next()?;
                if name == "Ref" || name.starts_with("Fn::") {
                    return self.intrinsic(name, argument);
                }
                Some(Value::Object(self.members(map)))
            }
            Value::Object(map) => Some(Value::Object(self.members(map))),
            Value::Array(all) => Some(Value::Array(
                all.iter().filter_map(|item| self.resolve(item)).collect(),
            )),
            other => Some(other.clone()),
        }
    }

    fn members(&self, map: &Map<String, Value>) -> Map<String, Value> {
        map.iter()
            .filter_map(|(key, value)| Some((key.clone(), self.resolve(value)?)))
            .collect()
    }

    fn intrinsic(&self, name: &str, argument: &Value) -> Option<Value> {
        let open = |what: &str| Some(Value::String(mark(what)));
        let text = |value: &Value| match self.resolve(value) {
            Some(Value::String(text)) => Some(text),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        match (name, argument) {
            ("Ref", Value::String(target)) => self.reference(target, None),
            ("Fn::GetAtt", Value::Array(parts)) => match parts.as_slice() {
                [Value::String(resource), attribute] => {
                    let attribute = text(attribute)?;
                    self.reference(resource, Some(&attribute))
                }
                _ => open("Fn::GetAtt"),
            },
            ("Fn::GetAtt", Value::String(path)) => match path.split_once('.') {
                Some((resource, attribute)) => self.reference(resource, Some(attribute)),
                None => open(path),
            },
            ("Fn::Sub", Value::String(template)) => Some(Value::String(self.sub(template, None))),
            ("Fn::Sub", Value::Array(parts)) => match parts.as_slice() {
                [Value::String(template), Value::Object(variables)] => {
                    Some(Value::String(self.sub(template, Some(variables))))
                }
                _ => open("Fn::Sub"),
            },
            ("Fn::Join", Value::Array(parts)) => match parts.as_slice() {
                [Value::String(separator), list] => match self.resolve(list) {
                    Some(Value::Array(items)) => {
                        let items: Option<Vec<String>> = items
                            .iter()
                            .map(|item| match item {
                                Value::String(text) => Some(text.clone()),
                                Value::Number(n) => Some(n.to_string()),
                                _ => None,
                            })
                            .collect();
                        match items {
                            Some(items) => Some(Value::String(items.join(separator))),
                            None => open("Fn::Join"),
                        }
                    }
                    _ => open("Fn::Join"),
                },
                _ => open("Fn::Join"),
            },
            ("Fn::Select", Value::Array(parts)) => match parts.as_slice() {
                [index, list] => {
                    let index: Option<usize> = text(index).and_then(|i| i.parse().ok());
                    match (index, self.resolve(list)) {
                        (Some(index), Some(Value::Array(items))) if index < items.len() => {
                            Some(items[index].clone())
                        }
                        _ => open("Fn::Select"),
                    }
                }
                _ => open("Fn::Select"),
            },
            ("Fn::FindInMap", Value::Array(parts)) => {
                let keys: Option<Vec<String>> = parts.iter().map(text).collect();
                match keys.as_deref() {
                    Some([map, first, second])
                        if !(map.contains(super::OPEN)
                            || first.contains(super::OPEN)
                            || second.contains(super::OPEN)) =>
                    {
                        let found = self.mappings.get(map)?.get(first)?.get(second)?;
                        self.resolve(found)
                    }
                    _ => open(&format!("Fn::FindInMap {}", compact(argument))),
                }
            }
            // Either branch may be deployed: values become the list of both; a
            // branch that leaves the value out, or is no value, cannot be read so.
            ("Fn::If", Value::Array(parts)) => match parts.as_slice() {
                [Value::String(condition), yes, no] => {
                    let both = [self.resolve(yes), self.resolve(no)];
                    let mut values = Vec::new();
                    for branch in both {
                        match branch {
                            Some(Value::String(text)) => values.push(Value::String(text)),
                            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                                values.extend(items)
                            }
                            _ => return open(&format!("the condition {condition}")),
                        }
                    }
                    Some(Value::Array(values))
                }
                _ => open("Fn::If"),
            },
            ("Fn::ImportValue", value) => open(&format!("Fn::ImportValue {}", compact(value))),
            (name, _) => open(name),
        }
    }

    /// `Ref` (or, with an attribute, `Fn::GetAtt`) of a pseudo parameter, a
    /// parameter or a resource.
    fn reference(&self, target: &str, attribute: Option<&str>) -> Option<Value> {
        let open = |what: &str| Some(Value::String(mark(what)));
        if attribute.is_none() {
            match target {
                "AWS::NoValue" => return None,
                "AWS::Partition" => return Some("aws".into()),
                "AWS::URLSuffix" => return Some("amazonaws.com".into()),
                // Which account or region deploys it decides no token's admission.
                "AWS::AccountId" => return Some("ACCOUNT_ID".into()),
                "AWS::Region" => return Some("REGION".into()),
                _ if target.starts_with("AWS::") => return open(target),
                _ => {}
            }
            if self.parameters.contains_key(target) {
                return open(target);
            }
        }
        let named = match attribute {
            Some(attribute) => format!("{target}.{attribute}"),
            None => target.to_string(),
        };
        let Some(resource) = self.resources.get(target) else {
            return open(&named);
        };
        // The template's own IAM OIDC provider: its ARN is its URL's.
        if resource["Type"] == "AWS::IAM::OIDCProvider"
            && attribute.is_none_or(|a| a == "Arn")
            && let Some(Value::String(url)) = self.resolve(&resource["Properties"]["Url"])
        {
            let issuer = url.trim_start_matches("https://").trim_end_matches('/');
            return Some(format!("arn:aws:iam::ACCOUNT_ID:oidc-provider/{issuer}").into());
        }
        open(&named)
    }

    /// `Fn::Sub`'s `${Name}` (`${!Name}` is the literal `${Name}`).
    fn sub(&self, template: &str, variables: Option<&Map<String, Value>>) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let name = &after[..end];
            rest = &after[end + 1..];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
                continue;
            }
            let value = match variables.and_then(|v| v.get(name)) {
                Some(value) => self.resolve(value),
                None => match name.split_once('.') {
                    Some((resource, attribute)) if !name.starts_with("AWS::") => {
                        self.reference(resource, Some(attribute))
                    }
                    _ => self.reference(name, None),
                },
            };
            match value {
                Some(Value::String(text)) => out.push_str(&text),
                Some(Value::Number(n)) => out.push_str(&n.to_string()),
                _ => out.push_str(&mark(name)),
            }
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// configure-aws-credentials' sample template, in YAML's short forms.
    const SAMPLE: &str = r#"
Parameters:
  GitHubOrg:
    Type: String
  RepositoryName:
    Type: String
  OIDCProviderArn:
    Default: ""
    Type: String
Conditions:
  CreateOIDCProvider: !Equals [!Ref OIDCProviderArn, ""]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Action: sts:AssumeRoleWithWebIdentity
            Principal:
              Federated: !If
                - CreateOIDCProvider
                - !Ref GithubOidc
                - !Ref OIDCProviderArn
            Condition:
              StringLike:
                token.actions.githubusercontent.com:sub: !Sub repo:${GitHubOrg}/${RepositoryName}:*
  GithubOidc:
    Type: AWS::IAM::OIDCProvider
    Condition: CreateOIDCProvider
    Properties:
      Url: https://token.actions.githubusercontent.com
      ClientIdList: [sts.amazonaws.com]
"#;

    #[test]
    fn a_templates_own_provider_is_resolved_its_parameters_left_open() {
        let tree = Tree::yaml(SAMPLE).unwrap();
        let roles = roles(&tree);
        assert_eq!(roles.len(), 1);
        let role = &roles[0];
        assert_eq!(role.name.as_deref(), Some("Role (AWS::IAM::Role)"));
        let statement = &role.document["Statement"][0];
        assert_eq!(
            statement["Principal"]["Federated"],
            json!([
                "arn:aws:iam::ACCOUNT_ID:oidc-provider/token.actions.githubusercontent.com",
                mark("OIDCProviderArn")
            ])
        );
        assert_eq!(
            statement["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"],
            format!("repo:{}/{}:*", mark("GitHubOrg"), mark("RepositoryName"))
        );
        assert_eq!(role.line(&tree, "/Statement/0/Condition"), Some(25));
    }

    #[test]
    fn intrinsics_resolve_as_far_as_the_template_says() {
        let text = json!({
            "Parameters": { "Env": { "Type": "String" } },
            "Mappings": { "Repos": { "prod": { "sub": "repo:acme/app:environment:prod" } } },
            "Resources": { "R": { "Type": "AWS::IAM::Role", "Properties": { "AssumeRolePolicyDocument": {
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": { "Federated": { "Fn::Join": ["", ["arn:", { "Ref": "AWS::Partition" }, ":iam::", { "Ref": "AWS::AccountId" }, ":oidc-provider/gitlab.com"]] } },
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            "a": { "Fn::FindInMap": ["Repos", "prod", "sub"] },
                            "b": { "Fn::Sub": ["x-${V}-${!Literal}-${Env}", { "V": { "Fn::Select": [1, ["p", "q"]] } }] },
                            "c": { "Fn::GetAtt": ["Other", "Arn"] },
                            "d": { "Ref": "AWS::NoValue" },
                            "e": { "Fn::ImportValue": "shared" },
                            "f": { "Fn::Sub": ["${N}:${P.Arn}", { "N": 3 }] }
                        }
                    }
                }]
            } } },
            "P": { "Type": "AWS::IAM::OIDCProvider", "Properties": { "Url": "https://token.actions.githubusercontent.com" } } }
        })
        .to_string();
        let tree = Tree::json(&text).unwrap();
        let role = &roles(&tree)[0];
        let statement = &role.document["Statement"][0];
        assert_eq!(
            statement["Principal"]["Federated"],
            "arn:aws:iam::ACCOUNT_ID:oidc-provider/gitlab.com"
        );
        let tests = &statement["Condition"]["StringEquals"];
        assert_eq!(tests["a"], "repo:acme/app:environment:prod");
        assert_eq!(tests["b"], format!("x-q-${{Literal}}-{}", mark("Env")));
        assert_eq!(tests["c"], mark("Other.Arn"));
        assert!(tests.get("d").is_none());
        assert_eq!(tests["e"], mark("Fn::ImportValue \"shared\""));
        // A number, and the template's own provider by its attribute.
        assert_eq!(
            tests["f"],
            "3:arn:aws:iam::ACCOUNT_ID:oidc-provider/token.actions.githubusercontent.com"
        );
    }

    #[test]
    fn numbers_lists_and_edges_of_the_intrinsics() {
        let long = "x".repeat(118);
        let text = json!({
            "Parameters": {
                "N": { "Type": "Number", "Default": 3 },
                "S": { "Type": "String", "Default": "app" },
                "L": { "Type": "CommaDelimitedList", "Default": ["a"] }
            },
            "Resources": { "R": { "Type": "AWS::IAM::Role", "Properties": { "AssumeRolePolicyDocument": {
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": { "Federated": "arn:aws:iam::123456789012:oidc-provider/gitlab.com" },
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            "join": { "Fn::Join": ["-", ["a", 1]] },
                            "select": { "Fn::Select": [2, ["p", "q"]] },
                            "if": { "Fn::If": ["C", ["a", "b"], "c"] },
                            "object": { "Ref": "S", "Other": "kept" },
                            "import": { "Fn::ImportValue": long },
                            "longer": { "Fn::ImportValue": format!("{long}x") }
                        }
                    }
                }]
            } } } }
        })
        .to_string();
        let tree = Tree::json(&text).unwrap();
        let role = &roles(&tree)[0];
        assert_eq!(
            role.defaults,
            [
                ("N".to_string(), "3".to_string()),
                ("S".to_string(), "app".to_string())
            ]
        );
        let tests = &role.document["Statement"][0]["Condition"]["StringEquals"];
        assert_eq!(tests["join"], "a-1");
        assert_eq!(tests["select"], mark("Fn::Select"));
        assert_eq!(tests["if"], json!(["a", "b", "c"]));
        // Only an object of one key is an intrinsic.
        assert_eq!(tests["object"], json!({ "Ref": "S", "Other": "kept" }));
        // What the mark quotes is cut after 120 characters.
        assert_eq!(
            tests["import"],
            mark(&format!("Fn::ImportValue \"{long}\""))
        );
        assert_eq!(
            tests["longer"],
            mark(&format!("Fn::ImportValue \"{long}x…"))
        );
    }
}
