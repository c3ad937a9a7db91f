//! `terraform show -json`: a saved plan's (`resource_changes`, each role as it
//! will be after apply) or the state's (`values`, the roles as they are). An
//! `aws_iam_role`'s `assume_role_policy` is a JSON string; in a plan it may be
//! "known after apply", which is said, not guessed.

use serde_json::Value;

use super::{Role, Tree};

pub fn roles(tree: &Tree) -> Vec<Role> {
    let top = &tree.value;
    if let Some(Value::Array(changes)) = top.get("resource_changes") {
        return changes
            .iter()
            .enumerate()
            .filter(|(_, change)| change["type"] == "aws_iam_role")
            .filter(|(_, change)| change["change"]["actions"] != serde_json::json!(["delete"]))
            .map(|(index, change)| {
                let address = change["address"].as_str().unwrap_or("aws_iam_role");
                let at = format!("/resource_changes/{index}/change/after/assume_role_policy");
                let after = &change["change"]["after"];
                let mut role = Role::new(
                    Some(address.to_string()),
                    at,
                    &after["assume_role_policy"],
                    tree,
                );
                role.arn = after["arn"].as_str().map(str::to_string);
                if change["change"]["after_unknown"]["assume_role_policy"] == true {
                    role.unknown = Some(
                        "its assume_role_policy is known only after apply (it is computed from \
                         another resource): check the state after apply"
                            .into(),
                    );
                } else if !after["assume_role_policy"].is_string() {
                    role.unknown = Some("the plan gives no assume_role_policy for it".into());
                }
                role
            })
            .collect();
    }
    let mut roles = Vec::new();
    for (key, module) in [
        ("values", &top["values"]),
        ("planned_values", &top["planned_values"]),
    ] {
        if module.is_object() {
            state(
                tree,
                &module["root_module"],
                &format!("/{key}/root_module"),
                &mut roles,
            );
            break;
        }
    }
    roles
}

/// A module's roles, and its child modules'.
fn state(tree: &Tree, module: &Value, at: &str, roles: &mut Vec<Role>) {
    if let Some(Value::Array(resources)) = module.get("resources") {
        for (index, resource) in resources.iter().enumerate() {
            if resource["type"] != "aws_iam_role" || resource["mode"] == "data" {
                continue;
            }
            let address = resource["address"].as_str().unwrap_or("aws_iam_role");
            let values = &resource["values"];
            let mut role = Role::new(
                Some(address.to_string()),
                format!("{at}/resources/{index}/values/assume_role_policy"),
                &values["assume_role_policy"],
                tree,
            );
            role.arn = values["arn"].as_str().map(str::to_string);
            if !values["assume_role_policy"].is_string() {
                role.unknown = Some("it has no assume_role_policy here".into());
            }
            roles.push(role);
        }
    }
    if let Some(Value::Array(children)) = module.get("child_modules") {
        for (index, child) in children.iter().enumerate() {
            state(tree, child, &format!("{at}/child_modules/{index}"), roles);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const POLICY: &str =
        r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;

    /// Each role the file holds: its name, where its document is, its ARN, and
    /// why it cannot be judged.
    fn read(output: Value) -> Vec<(String, String, Option<String>, Option<String>)> {
        let (kind, roles) = super::super::roles(&Tree::json(&output.to_string()).unwrap()).unwrap();
        assert_eq!(kind, super::super::Kind::Terraform);
        roles
            .into_iter()
            .map(|role| (role.name.unwrap(), role.at, role.arn, role.unknown))
            .collect()
    }

    #[test]
    fn a_plan_is_the_roles_as_they_will_be_but_not_those_it_deletes() {
        let change = |address: &str, kind: &str, actions: Value, after: Value, unknown: Value| {
            json!({ "address": address, "type": kind, "change": {
                "actions": actions, "after": after, "after_unknown": unknown,
            } })
        };
        let plan = json!({
            "format_version": "1.2",
            "resource_changes": [
                change("aws_iam_role.kept", "aws_iam_role", json!(["update"]),
                       json!({ "assume_role_policy": POLICY, "arn": "arn:aws:iam::123456789012:role/kept" }), json!({})),
                change("aws_iam_role.gone", "aws_iam_role", json!(["delete"]), json!(null), json!({})),
                change("aws_iam_role.replaced", "aws_iam_role", json!(["delete", "create"]),
                       json!({ "assume_role_policy": POLICY }), json!({})),
                change("aws_iam_policy.other", "aws_iam_policy", json!(["create"]),
                       json!({ "policy": POLICY }), json!({})),
                change("aws_iam_role.computed", "aws_iam_role", json!(["create"]),
                       json!({}), json!({ "assume_role_policy": true })),
                change("aws_iam_role.missing", "aws_iam_role", json!(["create"]), json!({}), json!({})),
            ],
        });
        let at =
            |index: usize| format!("/resource_changes/{index}/change/after/assume_role_policy");
        assert_eq!(
            read(plan),
            [
                ("aws_iam_role.kept".into(), at(0), Some("arn:aws:iam::123456789012:role/kept".into()), None),
                ("aws_iam_role.replaced".into(), at(2), None, None),
                (
                    "aws_iam_role.computed".into(),
                    at(4),
                    None,
                    Some("its assume_role_policy is known only after apply (it is computed from another \
                          resource): check the state after apply"
                        .into())
                ),
                (
                    "aws_iam_role.missing".into(),
                    at(5),
                    None,
                    Some("the plan gives no assume_role_policy for it".into())
                ),
            ]
        );
    }

    #[test]
    fn the_state_is_every_managed_role_of_every_module() {
        let resource = |address: &str, kind: &str, mode: &str, values: Value| json!({ "address": address, "type": kind, "mode": mode, "values": values });
        let state = json!({
            "format_version": "1.0",
            "values": { "root_module": {
                "resources": [
                    resource("data.aws_iam_role.existing", "aws_iam_role", "data", json!({ "assume_role_policy": POLICY })),
                    resource("aws_iam_role.root", "aws_iam_role", "managed",
                             json!({ "assume_role_policy": POLICY, "arn": "arn:aws:iam::123456789012:role/root" })),
                    resource("aws_s3_bucket.b", "aws_s3_bucket", "managed", json!({ "policy": POLICY })),
                ],
                "child_modules": [{ "resources": [
                    resource("module.m.aws_iam_role.bare", "aws_iam_role", "managed", json!({ "name": "bare" })),
                ] }],
            } },
        });
        assert_eq!(
            read(state),
            [
                (
                    "aws_iam_role.root".into(),
                    "/values/root_module/resources/1/values/assume_role_policy".into(),
                    Some("arn:aws:iam::123456789012:role/root".into()),
                    None
                ),
                (
                    "module.m.aws_iam_role.bare".into(),
                    "/values/root_module/child_modules/0/resources/0/values/assume_role_policy"
                        .into(),
                    None,
                    Some("it has no assume_role_policy here".into())
                ),
            ]
        );
    }
}
