//! The pinned table of Istio versions mesh knows how to render, and revision naming.
//!
//! Every supported version renders the same object structure (see `docs/istio-install.md`);
//! what differs per version is recorded here and nowhere else, so adding a version is one row.

/// One Istio release mesh can install, with what differs between releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IstioVersion {
    /// The release, e.g. `1.14.1`.
    pub version: &'static str,
    /// Tag of the `pilot` and `proxyv2` images of that release.
    pub image_tag: &'static str,
    /// `apiVersion` mesh uses for the Istio networking objects it renders itself (the
    /// cross-network Gateway): releases before 1.22 do not serve `networking.istio.io/v1`.
    pub networking_api_version: &'static str,
    /// Whether the release serves the `v1` versions of the networking, security and
    /// telemetry APIs (Istio 1.22 and later). The CRDs always declare them; older istiod
    /// simply never asks for them.
    pub serves_v1_apis: bool,
    /// Oldest Kubernetes minor version the release supports, e.g. `1.21`.
    pub kubernetes_min: &'static str,
    /// Newest Kubernetes minor version the release supports, e.g. `1.24`.
    pub kubernetes_max: &'static str,
}

/// The pinned table. Kubernetes ranges are those of Istio's supported-releases page.
const VERSIONS: &[IstioVersion] = &[
    IstioVersion {
        version: "1.14.1",
        image_tag: "1.14.1",
        networking_api_version: "networking.istio.io/v1alpha3",
        serves_v1_apis: false,
        kubernetes_min: "1.21",
        kubernetes_max: "1.24",
    },
    IstioVersion {
        version: "1.19.1",
        image_tag: "1.19.1",
        networking_api_version: "networking.istio.io/v1alpha3",
        serves_v1_apis: false,
        kubernetes_min: "1.25",
        kubernetes_max: "1.28",
    },
    IstioVersion {
        version: "1.22.3",
        image_tag: "1.22.3",
        networking_api_version: "networking.istio.io/v1",
        serves_v1_apis: true,
        kubernetes_min: "1.27",
        kubernetes_max: "1.30",
    },
    IstioVersion {
        version: "1.24.2",
        image_tag: "1.24.2",
        networking_api_version: "networking.istio.io/v1",
        serves_v1_apis: true,
        kubernetes_min: "1.28",
        kubernetes_max: "1.31",
    },
];

/// The Istio versions mesh can install, oldest first.
pub fn supported_versions() -> &'static [&'static str] {
    const NAMES: &[&str] = &["1.14.1", "1.19.1", "1.22.3", "1.24.2"];
    NAMES
}

/// The pinned facts of one supported version; `None` when mesh does not support it.
pub fn version_info(version: &str) -> Option<&'static IstioVersion> {
    VERSIONS.iter().find(|v| v.version == version)
}

/// The revision name Istio's docs recommend for a version: dots are not allowed in a
/// revision (it becomes part of object names and label values), so `1.14.1` → `1-14-1`.
pub fn revision_of(version: &str) -> String {
    version
        .trim()
        .to_ascii_lowercase()
        .replace(['.', '_', '+'], "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_version_has_a_table_row() {
        for name in supported_versions() {
            let info = version_info(name).expect("row");
            assert_eq!(info.version, *name);
        }
        assert_eq!(supported_versions().len(), VERSIONS.len());
    }

    #[test]
    fn revision_replaces_dots() {
        assert_eq!(revision_of("1.14.1"), "1-14-1");
        assert_eq!(revision_of("1.24.2"), "1-24-2");
    }

    #[test]
    fn unknown_version_is_none() {
        assert!(version_info("1.10.3").is_none());
    }
}
