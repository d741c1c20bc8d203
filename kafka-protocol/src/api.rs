//! The version table: every API we speak, with the versions of the pinned
//! Kafka release ([`KAFKA_RELEASE`]). Read from `schema/versions.table` at
//! build time; the client negotiates within it and the testkit advertises it.

/// An inclusive range of API versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionRange {
    /// Lowest version.
    pub min: i16,
    /// Highest version.
    pub max: i16,
}

impl VersionRange {
    /// True when `v` lies in the range.
    pub fn contains(&self, v: i16) -> bool {
        self.min <= v && v <= self.max
    }

    /// The versions both ranges share, if any.
    pub fn intersect(&self, other: VersionRange) -> Option<VersionRange> {
        let r = VersionRange { min: self.min.max(other.min), max: self.max.min(other.max) };
        (r.min <= r.max).then_some(r)
    }
}

/// One line of the version table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiInfo {
    /// The API.
    pub key: ApiKey,
    /// The versions the pinned release accepts.
    pub versions: VersionRange,
    /// The first flexible version (KIP-482), if any.
    pub flexible_from: Option<i16>,
    /// The lowest version the pinned release lists in ApiVersions; below
    /// `versions.min` only for Produce (see `schema/versions.table`).
    pub advertised_min: i16,
}

impl ApiInfo {
    /// True when `version` uses compact encodings and tagged fields.
    pub fn is_flexible(&self, version: i16) -> bool {
        self.flexible_from.is_some_and(|f| version >= f)
    }

    /// The request header version for `version`: 2 when flexible, else 1.
    pub fn request_header_version(&self, version: i16) -> i16 {
        if self.is_flexible(version) { 2 } else { 1 }
    }

    /// The response header version for `version`: 1 when flexible, else 0 —
    /// except ApiVersions, whose responses always use header v0 so that a
    /// client that does not yet know the broker's versions can read them.
    pub fn response_header_version(&self, version: i16) -> i16 {
        if self.key != ApiKey::ApiVersions && self.is_flexible(version) { 1 } else { 0 }
    }
}

include!(concat!(env!("OUT_DIR"), "/api_table.rs"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_key_order_and_consistent() {
        for w in API_TABLE.windows(2) {
            assert!((w[0].key as i16) < (w[1].key as i16));
        }
        for (i, info) in API_TABLE.iter().enumerate() {
            assert_eq!(ApiKey::ALL[i], info.key);
            assert_eq!(ApiKey::from_i16(info.key as i16), Some(info.key));
            assert_eq!(info.key.info(), info);
            assert!(info.advertised_min <= info.versions.min);
        }
        assert_eq!(ApiKey::from_i16(4), None);
        assert_eq!(KAFKA_RELEASE, "4.4.0");
    }

    #[test]
    fn header_versions() {
        let produce = ApiKey::Produce.info();
        assert_eq!(produce.request_header_version(8), 1);
        assert_eq!(produce.request_header_version(9), 2);
        assert_eq!(produce.response_header_version(9), 1);
        let av = ApiKey::ApiVersions.info();
        assert_eq!(av.request_header_version(3), 2);
        assert_eq!(av.response_header_version(3), 0);
        assert_eq!(ApiKey::SaslHandshake.info().request_header_version(1), 1);
    }
}
