//! `trust-policy --format cloudformation`'s pure part: a CloudFormation
//! template (JSON, which is also YAML) for the IAM role with exactly the trust
//! policy `trust-policy` prints, and the account's IAM OIDC provider for the
//! issuer unless the account already has one.
//!
//! No `ThumbprintList`: it is optional in `AWS::IAM::OIDCProvider` (and in
//! CreateOpenIDConnectProvider, which then retrieves the top intermediate CA's
//! thumbprint itself), and IAM verifies the big CI issuers against its own
//! trusted root CAs, not a thumbprint.

use serde_json::{Map, Value, json};

use super::Subject;

/// The template. `create_provider` is the default of its `CreateOidcProvider`
/// parameter: an account has at most one IAM OIDC provider per issuer, so the
/// second role for the same CI is deployed with `CreateOidcProvider=false`.
/// With the placeholder account `ACCOUNT_ID`, the existing provider's ARN is
/// the deploying account's (`${AWS::AccountId}`); a real account is written as
/// trust-policy prints it. One statement per subject; a second issuer (Azure
/// DevOps' and Entra's, during the move) gets `CreateOidcProvider2` and its own
/// provider; a provider built into IAM (Google's) gets none.
pub fn cloudformation(
    subjects: &[Subject],
    partition: &str,
    account: &str,
    create_provider: bool,
) -> Value {
    let mut document = super::document(subjects, partition, account);
    let mut parameters = Map::new();
    parameters.insert(
        "RoleName".into(),
        json!({
            "Type": "String",
            "Default": "",
            "AllowedPattern": "[\\w+=,.@-]{0,64}",
            "Description": "The role's name (needs CAPABILITY_NAMED_IAM); empty lets CloudFormation name it."
        }),
    );
    parameters.insert(
        "ManagedPolicyArns".into(),
        json!({
            "Type": "CommaDelimitedList",
            "Description": "ARNs of the managed policies the role gets, comma-separated, e.g. arn:aws:iam::aws:policy/ReadOnlyAccess."
        }),
    );
    let mut conditions = Map::new();
    let mut resources = Map::new();
    let mut providers = 0;
    for (index, subject) in subjects.iter().enumerate() {
        if super::policy::built_in(&subject.issuer) {
            continue;
        }
        providers += 1;
        let suffix = match providers {
            1 => String::new(),
            n => n.to_string(),
        };
        let issuer = &subject.issuer;
        let federated = &mut document["Statement"][index]["Principal"]["Federated"];
        let existing = if crate::arn::AccountId::is_valid(account) {
            federated.clone()
        } else {
            json!({
                "Fn::Sub": format!("arn:{partition}:iam::${{AWS::AccountId}}:oidc-provider/{issuer}")
            })
        };
        *federated = json!({
            "Fn::If": [format!("CreatesOidcProvider{suffix}"), { "Ref": format!("OidcProvider{suffix}") }, existing]
        });
        parameters.insert(
            format!("CreateOidcProvider{suffix}"),
            json!({
                "Type": "String",
                "AllowedValues": ["true", "false"],
                "Default": create_provider.to_string(),
                "Description": format!(
                    "true: create the IAM OIDC provider for https://{issuer}. \
                     false: the account already has it (an account has at most one per URL)."
                )
            }),
        );
        conditions.insert(
            format!("CreatesOidcProvider{suffix}"),
            json!({ "Fn::Equals": [{ "Ref": format!("CreateOidcProvider{suffix}") }, "true"] }),
        );
        resources.insert(
            format!("OidcProvider{suffix}"),
            json!({
                "Type": "AWS::IAM::OIDCProvider",
                "Condition": format!("CreatesOidcProvider{suffix}"),
                "Properties": {
                    "Url": format!("https://{issuer}"),
                    "ClientIdList": [subject.audience]
                }
            }),
        );
    }
    conditions.insert(
        "HasRoleName".into(),
        json!({ "Fn::Not": [{ "Fn::Equals": [{ "Ref": "RoleName" }, ""] }] }),
    );
    resources.insert(
        "Role".into(),
        json!({
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": {
                    "Fn::If": ["HasRoleName", { "Ref": "RoleName" }, { "Ref": "AWS::NoValue" }]
                },
                "AssumeRolePolicyDocument": document,
                "ManagedPolicyArns": { "Ref": "ManagedPolicyArns" }
            }
        }),
    );
    let described: Vec<String> = subjects
        .iter()
        .map(|s| format!("from {} with sub {}", s.issuer, s.subject))
        .collect();
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!(
            "IAM role for CI jobs whose OIDC token comes {} (written by vault-ci trust-policy)",
            described.join(", or ")
        ),
        "Parameters": parameters,
        "Conditions": conditions,
        "Resources": resources,
        "Outputs": {
            "RoleArn": {
                "Description": "The role to pass to vault-ci assume --role-arn.",
                "Value": { "Fn::GetAtt": ["Role", "Arn"] }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github() -> Subject {
        Subject {
            issuer: "token.actions.githubusercontent.com".into(),
            audience: "sts.amazonaws.com".into(),
            subject: "repo:octo-org/octo-repo:ref:refs/heads/main".into(),
        }
    }

    /// The trust policy with `Fn::If` taken one way: the provider this stack
    /// creates (`Ref`), or the existing one.
    fn resolved(template: &Value, creating: bool) -> Value {
        let mut document =
            template["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"].clone();
        let choice = &document["Statement"][0]["Principal"]["Federated"]["Fn::If"];
        assert_eq!(choice[0], "CreatesOidcProvider");
        let arn = if creating {
            assert_eq!(choice[1], json!({ "Ref": "OidcProvider" }));
            json!("arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com")
        } else {
            choice[2].clone()
        };
        document["Statement"][0]["Principal"]["Federated"] = arn;
        document
    }

    #[test]
    fn the_role_trusts_exactly_what_trust_policy_prints() {
        let subject = github();
        let template = cloudformation(std::slice::from_ref(&subject), "aws", "123456789012", true);
        let printed = subject.document("aws", "123456789012");
        assert_eq!(resolved(&template, false), printed);
        // Deployed in 123456789012, the provider it creates has the same ARN.
        assert_eq!(resolved(&template, true), printed);
        let findings = crate::trust::check::check(&printed).unwrap();
        assert!(findings.iter().all(|f| !f.class.fails()), "{findings:?}");
        assert_eq!(
            template["Outputs"]["RoleArn"]["Value"],
            json!({ "Fn::GetAtt": ["Role", "Arn"] })
        );
        assert_eq!(template["AWSTemplateFormatVersion"], "2010-09-09");
    }

    #[test]
    fn the_provider_is_created_only_when_the_parameter_says_so() {
        let subject = github();
        let template = cloudformation(std::slice::from_ref(&subject), "aws", "123456789012", true);
        let provider = &template["Resources"]["OidcProvider"];
        assert_eq!(provider["Type"], "AWS::IAM::OIDCProvider");
        assert_eq!(provider["Condition"], "CreatesOidcProvider");
        assert_eq!(
            provider["Properties"]["Url"],
            "https://token.actions.githubusercontent.com"
        );
        assert_eq!(
            provider["Properties"]["ClientIdList"],
            json!(["sts.amazonaws.com"])
        );
        assert!(provider["Properties"].get("ThumbprintList").is_none());
        assert_eq!(
            template["Conditions"]["CreatesOidcProvider"],
            json!({ "Fn::Equals": [{ "Ref": "CreateOidcProvider" }, "true"] })
        );
        let parameter = &template["Parameters"]["CreateOidcProvider"];
        assert_eq!(parameter["Default"], "true");
        assert_eq!(parameter["AllowedValues"], json!(["true", "false"]));
        let existing = cloudformation(std::slice::from_ref(&subject), "aws", "123456789012", false);
        assert_eq!(
            existing["Parameters"]["CreateOidcProvider"]["Default"],
            "false"
        );
    }

    #[test]
    fn role_name_and_managed_policies_are_parameters() {
        let template = cloudformation(&[github()], "aws", "123456789012", true);
        let role = &template["Resources"]["Role"];
        assert_eq!(role["Type"], "AWS::IAM::Role");
        assert_eq!(
            role["Properties"]["RoleName"],
            json!({ "Fn::If": ["HasRoleName", { "Ref": "RoleName" }, { "Ref": "AWS::NoValue" }] })
        );
        assert_eq!(
            role["Properties"]["ManagedPolicyArns"],
            json!({ "Ref": "ManagedPolicyArns" })
        );
        assert_eq!(template["Parameters"]["RoleName"]["Default"], "");
        assert_eq!(
            template["Parameters"]["ManagedPolicyArns"]["Type"],
            "CommaDelimitedList"
        );
        // Every Ref names a parameter, a resource or a pseudo parameter; every
        // Condition used is defined.
        let text = template.to_string();
        for name in ["RoleName", "ManagedPolicyArns", "CreateOidcProvider"] {
            assert!(template["Parameters"].get(name).is_some(), "{name}");
            assert!(
                text.contains(&format!("{{\"Ref\":\"{name}\"}}")),
                "{name} is never used"
            );
        }
        for name in ["CreatesOidcProvider", "HasRoleName"] {
            assert!(template["Conditions"].get(name).is_some(), "{name}");
        }
    }

    #[test]
    fn google_needs_no_provider_and_a_second_issuer_gets_its_own() {
        let google = Subject {
            issuer: "accounts.google.com".into(),
            audience: "sts.amazonaws.com".into(),
            subject: "100018646976219416293".into(),
        };
        let template = cloudformation(std::slice::from_ref(&google), "aws", "ACCOUNT_ID", true);
        assert!(template["Resources"].get("OidcProvider").is_none());
        assert!(template["Parameters"].get("CreateOidcProvider").is_none());
        let document = &template["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"];
        assert_eq!(*document, google.document("aws", "ACCOUNT_ID"));
        assert_eq!(
            document["Statement"][0]["Principal"]["Federated"],
            "accounts.google.com"
        );
        let entra = Subject {
            issuer: "login.microsoftonline.com/ff882432-09b0-437b-bd22-ca13c0037ded/v2.0".into(),
            audience: "fb60f99c-7a34-4190-8149-302f77469936".into(),
            subject: "/eid1/c/pub/t/MiSI_7AJe0O9IsoTwAN97Q/a/rISbSSETf0KqFyZ8ppdXmA/sc/o/c".into(),
        };
        let both = cloudformation(&[github(), entra], "aws", "123456789012", false);
        let statements =
            &both["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"];
        assert_eq!(
            statements[1]["Principal"]["Federated"]["Fn::If"][1],
            json!({ "Ref": "OidcProvider2" })
        );
        assert_eq!(
            both["Resources"]["OidcProvider2"]["Properties"]["ClientIdList"],
            json!(["fb60f99c-7a34-4190-8149-302f77469936"])
        );
        assert_eq!(
            both["Parameters"]["CreateOidcProvider2"]["Default"],
            "false"
        );
        assert!(both["Conditions"].get("CreatesOidcProvider2").is_some());
    }

    #[test]
    fn a_placeholder_account_becomes_the_deploying_account() {
        let subject = Subject {
            issuer: "gitlab.example.com".into(),
            audience: "https://gitlab.example.com".into(),
            subject: "project_path:mygroup/myproject:ref_type:branch:ref:main".into(),
        };
        let template = cloudformation(
            std::slice::from_ref(&subject),
            "aws-us-gov",
            "ACCOUNT_ID",
            false,
        );
        let document = resolved(&template, false);
        assert_eq!(
            document["Statement"][0]["Principal"]["Federated"],
            json!({ "Fn::Sub": "arn:aws-us-gov:iam::${AWS::AccountId}:oidc-provider/gitlab.example.com" })
        );
        let mut printed = subject.document("aws-us-gov", "ACCOUNT_ID");
        printed["Statement"][0]["Principal"]["Federated"] =
            document["Statement"][0]["Principal"]["Federated"].clone();
        assert_eq!(document, printed);
        assert_eq!(
            template["Resources"]["OidcProvider"]["Properties"]["ClientIdList"],
            json!(["https://gitlab.example.com"])
        );
    }
}
