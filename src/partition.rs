//! AWS partitions and their regions, from the AWS SDK's own data:
//! `partitions.json` is the document aws-sdk-sts resolves its endpoints with,
//! which the SDK keeps private; a test holds this copy to the SDK's, so it
//! changes when the SDK does and never by hand. With it, a role, a region and
//! an STS endpoint of different partitions are refused before any request, and
//! a region name no partition has is caught as the typo it most likely is.

use std::sync::LazyLock;

use regex_lite::Regex;
use serde::Deserialize;

pub struct Partition {
    pub id: String,
    /// The suffix of its endpoints' host names: `amazonaws.com.cn`.
    pub dns_suffix: String,
    /// The region its global endpoints live in: `us-east-1`, `cn-northwest-1`.
    pub home_region: String,
    region_regex: Regex,
    /// Its regions, `…-global` pseudo-regions left out.
    pub regions: Vec<String>,
}

static PARTITIONS: LazyLock<Vec<Partition>> = LazyLock::new(|| {
    #[derive(Deserialize)]
    struct Document {
        partitions: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        id: String,
        outputs: Outputs,
        #[serde(rename = "regionRegex")]
        region_regex: String,
        regions: serde_json::Map<String, serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct Outputs {
        #[serde(rename = "dnsSuffix")]
        dns_suffix: String,
        #[serde(rename = "implicitGlobalRegion")]
        implicit_global_region: String,
    }
    let document: Document = serde_json::from_str(include_str!("partitions.json"))
        .expect("partitions.json is the SDK's document (a test reads it)");
    document
        .partitions
        .into_iter()
        .map(|entry| Partition {
            region_regex: Regex::new(&entry.region_regex)
                .expect("the SDK's region patterns compile (a test compiles them)"),
            regions: entry
                .regions
                .keys()
                .filter(|region| !region.ends_with("-global"))
                .cloned()
                .collect(),
            id: entry.id,
            dns_suffix: entry.outputs.dns_suffix,
            home_region: entry.outputs.implicit_global_region,
        })
        .collect()
});

/// Every partition, `aws` first.
pub fn all() -> &'static [Partition] {
    &PARTITIONS
}

pub fn named(id: &str) -> Option<&'static Partition> {
    all().iter().find(|partition| partition.id == id)
}

/// The partition a region belongs to, as the SDK decides it: a region it lists,
/// else one its pattern admits (a region newer than the SDK). None for a name
/// no partition would have.
pub fn of_region(region: &str) -> Option<&'static Partition> {
    all()
        .iter()
        .find(|partition| partition.regions.iter().any(|r| r == region))
        .or_else(|| {
            all()
                .iter()
                .find(|partition| partition.region_regex.is_match(region))
        })
}

/// The listed region nearest to a name no partition has: `eu-west1` → `eu-west-1`.
pub fn nearest_region(region: &str) -> Option<&'static str> {
    all()
        .iter()
        .flat_map(|partition| partition.regions.iter())
        .map(|known| (strsim::damerau_levenshtein(region, known), known.as_str()))
        .filter(|(distance, _)| *distance <= 3)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// The partition an endpoint's host name says, when it says one: its region's
/// (`sts.cn-north-1.amazonaws.com.cn`), else the one partition whose suffix it
/// ends with. None for hosts of no partition (a local STS, a proxy).
pub fn of_host(host: &str) -> Option<&'static Partition> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let suffixed: Vec<&Partition> = all()
        .iter()
        .filter(|partition| host.ends_with(&format!(".{}", partition.dns_suffix)))
        .collect();
    // The longest suffix is the one meant: amazonaws.com.cn, not amazonaws.com.
    let suffix = suffixed.iter().map(|p| p.dns_suffix.len()).max()?;
    let suffixed: Vec<&Partition> = suffixed
        .into_iter()
        .filter(|partition| partition.dns_suffix.len() == suffix)
        .collect();
    let labels = &host[..host.len() - suffix - 1];
    let by_region = labels
        .split('.')
        .filter_map(of_region)
        .find(|partition| suffixed.iter().any(|p| p.id == partition.id));
    by_region.or(match suffixed.as_slice() {
        [only] => Some(*only),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_belong_to_their_partitions() {
        let of = |region: &str| of_region(region).map(|p| p.id.as_str());
        assert_eq!(of("eu-west-1"), Some("aws"));
        assert_eq!(of("cn-north-1"), Some("aws-cn"));
        assert_eq!(of("us-gov-west-1"), Some("aws-us-gov"));
        assert_eq!(of("us-isob-east-1"), Some("aws-iso-b"));
        // Newer than the SDK, but of the aws partition's shape.
        assert_eq!(of("eu-west-9"), Some("aws"));
        assert_eq!(of("eu-west1"), None);
        assert_eq!(of("mars-1"), None);
        assert_eq!(nearest_region("eu-west1"), Some("eu-west-1"));
        assert_eq!(nearest_region("us-esat-1"), Some("us-east-1"));
        assert_eq!(nearest_region("mars"), None);
    }

    #[test]
    fn an_endpoints_host_names_its_partition_when_it_is_aws() {
        let of = |host: &str| of_host(host).map(|p| p.id.as_str());
        assert_eq!(of("sts.cn-north-1.amazonaws.com.cn"), Some("aws-cn"));
        assert_eq!(of("sts.us-gov-west-1.amazonaws.com"), Some("aws-us-gov"));
        assert_eq!(of("sts.eu-west-1.amazonaws.com"), Some("aws"));
        assert_eq!(of("sts-fips.us-east-1.amazonaws.com"), Some("aws"));
        // aws and aws-us-gov share the suffix; without a region it says neither.
        assert_eq!(of("sts.amazonaws.com"), None);
        assert_eq!(of("127.0.0.1"), None);
        assert_eq!(of("sts.example.com"), None);
    }

    /// The copy is the SDK's document: the one its endpoint resolver embeds,
    /// read from the aws-sdk-sts source this build uses.
    #[test]
    fn partitions_json_is_the_sdks_own() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let metadata = std::process::Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--offline", "--locked"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo metadata runs");
        assert!(metadata.status.success(), "{metadata:?}");
        let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout).unwrap();
        let manifest = metadata["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|package| package["name"] == "aws-sdk-sts")
            .and_then(|package| package["manifest_path"].as_str())
            .expect("aws-sdk-sts is a dependency");
        let source = std::path::Path::new(manifest)
            .with_file_name("src")
            .join("endpoint_lib.rs");
        let source = std::fs::read_to_string(&source).unwrap();
        let start = source
            .find("new_from_json(b\"")
            .expect("the SDK embeds its partitions as a byte string")
            + "new_from_json(b\"".len();
        let end = start + source[start..].find("\")").unwrap();
        // The byte string's escapes: \" and \\ only.
        let sdk = source[start..end]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\");
        let sdk: serde_json::Value = serde_json::from_str(&sdk).unwrap();
        let ours: serde_json::Value =
            serde_json::from_str(include_str!("partitions.json")).unwrap();
        assert!(
            sdk == ours,
            "src/partitions.json differs from aws-sdk-sts's: copy the SDK's document into it"
        );
        assert!(all().len() >= 8 && all()[0].id == "aws");
    }
}
