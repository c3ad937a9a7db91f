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
