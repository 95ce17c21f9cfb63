//! The Blob service operations the backend needs, on the state blob, its journal and its
//! snapshots: typed calls over [`Transport`], each mapping the statuses it expects.

use std::collections::BTreeMap;

use reqwest::Method;

use super::http::{xml_text, BlobRequest, BlobResponse, Transport};
use crate::backend::SnapshotInfo;
use crate::error::StateError;

/// Metadata names (the service lower-cases nothing; mesh writes them lower-case).
pub(crate) const META_SERIAL: &str = "meshserial";
pub(crate) const META_LINEAGE: &str = "meshlineage";
/// Prefix of the lock holder's metadata (`meshlockid`, `meshlockwho`, ...).
pub(crate) const META_LOCK_PREFIX: &str = "meshlock";

/// What a HEAD request tells about a blob.
#[derive(Debug, Clone, Default)]
pub(crate) struct Properties {
    /// Content length.
    pub length: u64,
    /// Whether a lease is held on it now.
    pub leased: bool,
    /// Its metadata, names lower-cased.
    pub metadata: BTreeMap<String, String>,
}

/// The state blob, its journal blob, and their container.
pub(crate) struct Blobs {
    pub transport: Transport,
    /// The state blob's name (the backend's `key`).
    pub state: String,
    /// The journal: an append blob beside the state, `<key>.journal`.
    pub journal: String,
}

impl Blobs {
    /// `azure_blob://account/container/blob`.
    pub fn describe(&self, blob: &str) -> String {
        self.transport.describe(Some(blob))
    }

    fn send(&self, action: &str, request: BlobRequest) -> Result<BlobResponse, StateError> {
        self.transport.send(action, request)
    }

    /// Fail with the service's error unless the status is one of `ok`.
    fn expect(
        &self,
        response: BlobResponse,
        ok: &[u16],
        action: &str,
        blob: &str,
    ) -> Result<BlobResponse, StateError> {
        if ok.contains(&response.status) {
            Ok(response)
        } else {
            Err(response.error(action, &self.describe(blob)))
        }
    }

    /// A blob's content (or a snapshot's), `None` when it does not exist.
    pub fn get(&self, blob: &str, snapshot: Option<&str>) -> Result<Option<Vec<u8>>, StateError> {
        let action = "read";
        let mut request = BlobRequest::new(Method::GET, Some(blob));
        if let Some(snapshot) = snapshot {
            request = request.query("snapshot", snapshot);
        }
        let response = self.send(action, request)?;
        if response.status == 404 {
            return Ok(None);
        }
        Ok(Some(self.expect(response, &[200], action, blob)?.body))
    }

    /// A blob's properties, `None` when it does not exist.
    pub fn properties(&self, blob: &str) -> Result<Option<Properties>, StateError> {
        let action = "read the properties of";
        let response = self.send(action, BlobRequest::new(Method::HEAD, Some(blob)))?;
        if response.status == 404 {
            return Ok(None);
        }
        let response = self.expect(response, &[200], action, blob)?;
        let metadata = response
            .headers
            .iter()
            .filter_map(|(name, value)| {
                let name = name.as_str().strip_prefix("x-ms-meta-")?;
                Some((name.to_ascii_lowercase(), value.to_str().ok()?.to_string()))
            })
            .collect();
        Ok(Some(Properties {
            length: response
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            leased: response.header("x-ms-lease-state") == Some("leased"),
            metadata,
        }))
    }

    /// Replace the state blob's content and metadata (under the lease, when given).
    pub fn put_state(
        &self,
        body: Vec<u8>,
        lease: Option<&str>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), StateError> {
        let mut request = BlobRequest::new(Method::PUT, Some(&self.state))
            .header("x-ms-blob-type", "BlockBlob")
            .body(body);
        if let Some(lease) = lease {
            request = request.header("x-ms-lease-id", lease);
        }
        for (name, value) in metadata {
            request = request.header(&format!("x-ms-meta-{name}"), value.clone());
        }
        let response = self.send("write the state", request)?;
        self.expect(response, &[201], "write the state", &self.state)
            .map(|_| ())
    }

    /// Create the state blob, empty, unless it exists (a lease needs a blob); creates the
    /// container too when it is missing.
    pub fn ensure_state(&self) -> Result<(), StateError> {
        let action = "create the state blob";
        let request = || {
            BlobRequest::new(Method::PUT, Some(&self.state))
                .header("x-ms-blob-type", "BlockBlob")
                .header("if-none-match", "*")
        };
        let mut response = self.send(action, request())?;
        if response.status == 404 && response.error_code() == "ContainerNotFound" {
            self.create_container()?;
            response = self.send(action, request())?;
        }
        // 409/412: it exists already (and may be leased).
        self.expect(response, &[201, 409, 412], action, &self.state)
            .map(|_| ())
    }

    fn create_container(&self) -> Result<(), StateError> {
        let action = "create the container";
        let request = BlobRequest::new(Method::PUT, None).query("restype", "container");
        let response = self.send(action, request)?;
        if matches!(response.status, 201 | 409) {
            return Ok(());
        }
        Err(response.error(action, &self.transport.describe(None)))
    }

    /// Replace the state blob's metadata.
    pub fn set_metadata(
        &self,
        lease: Option<&str>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), StateError> {
        let action = "record the lock holder on";
        let mut request =
            BlobRequest::new(Method::PUT, Some(&self.state)).query("comp", "metadata");
        if let Some(lease) = lease {
            request = request.header("x-ms-lease-id", lease);
        }
        for (name, value) in metadata {
            request = request.header(&format!("x-ms-meta-{name}"), value.clone());
        }
        let response = self.send(action, request)?;
        self.expect(response, &[200], action, &self.state)
            .map(|_| ())
    }

    /// A lease operation on the state blob; the caller interprets the status.
    pub fn lease(
        &self,
        action: &str,
        headers: &[(&str, String)],
    ) -> Result<BlobResponse, StateError> {
        let mut request = BlobRequest::new(Method::PUT, Some(&self.state)).query("comp", "lease");
        for (name, value) in headers {
            request = request.header(name, value.clone());
        }
        self.send(action, request)
    }

    /// Take a snapshot of the state blob; returns its time stamp.
    pub fn snapshot(&self, lease: Option<&str>) -> Result<String, StateError> {
        let action = "take a snapshot of";
        let mut request =
            BlobRequest::new(Method::PUT, Some(&self.state)).query("comp", "snapshot");
        if let Some(lease) = lease {
            request = request.header("x-ms-lease-id", lease);
        }
        let response = self.send(action, request)?;
        let response = self.expect(response, &[201], action, &self.state)?;
        Ok(response
            .header("x-ms-snapshot")
            .unwrap_or_default()
            .to_string())
    }

    /// Delete a blob, or one snapshot of it; a blob already gone is fine.
    pub fn delete(&self, blob: &str, snapshot: Option<&str>) -> Result<(), StateError> {
        let action = "delete";
        let mut request = BlobRequest::new(Method::DELETE, Some(blob));
        if let Some(snapshot) = snapshot {
            request = request.query("snapshot", snapshot);
        }
        let response = self.send(action, request)?;
        self.expect(response, &[202, 404], action, blob).map(|_| ())
    }

    /// The state blob's snapshots, oldest first.
    pub fn list_snapshots(&self) -> Result<Vec<SnapshotInfo>, StateError> {
        let action = "list the snapshots of";
        let mut snapshots = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut request = BlobRequest::new(Method::GET, None)
                .query("restype", "container")
                .query("comp", "list")
                .query("prefix", &self.state)
                .query("include", "snapshots,metadata");
            if let Some(m) = &marker {
                request = request.query("marker", m);
            }
            let response = self.send(action, request)?;
            let response = self.expect(response, &[200], action, &self.state)?;
            let xml = String::from_utf8_lossy(&response.body).into_owned();
            snapshots.extend(parse_listing(&xml, &self.state));
            marker = xml_text(&xml, "NextMarker").filter(|m| !m.is_empty());
            if marker.is_none() {
                break;
            }
        }
        // Snapshot time stamps are ISO 8601 with fixed width: text order is time order.
        snapshots.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(snapshots)
    }

    /// Create the journal (an empty append blob) unless it exists.
    pub fn create_journal(&self) -> Result<(), StateError> {
        let action = "create the state journal";
        let request = BlobRequest::new(Method::PUT, Some(&self.journal))
            .header("x-ms-blob-type", "AppendBlob")
            .header("if-none-match", "*");
        let response = self.send(action, request)?;
        self.expect(response, &[201, 409, 412], action, &self.journal)
            .map(|_| ())
    }

    /// Append one block to the journal, at `position` when given (the service refuses the
    /// block if the journal has another size). Returns the service's response, whose status
    /// the caller interprets.
    pub fn append(
        &self,
        block: Vec<u8>,
        position: Option<u64>,
    ) -> Result<BlobResponse, StateError> {
        let mut request = BlobRequest::new(Method::PUT, Some(&self.journal))
            .query("comp", "appendblock")
            .body(block);
        if let Some(position) = position {
            request = request.header("x-ms-blob-condition-appendpos", position.to_string());
        }
        self.send("append to the state journal", request)
    }
}

/// The snapshots of `blob` in a List Blobs answer.
fn parse_listing(xml: &str, blob: &str) -> Vec<SnapshotInfo> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<Blob>") {
        let after = &rest[start + "<Blob>".len()..];
        let Some(end) = after.find("</Blob>") else {
            break;
        };
        let entry = &after[..end];
        rest = &after[end..];
        let name = xml_text(entry, "Name");
        let snapshot = xml_text(entry, "Snapshot");
        let (Some(name), Some(snapshot)) = (name, snapshot) else {
            continue;
        };
        if name != blob || snapshot.is_empty() {
            continue;
        }
        out.push(SnapshotInfo {
            taken: snapshot.clone(),
            id: snapshot,
            serial: xml_text(entry, META_SERIAL).and_then(|s| s.trim().parse().ok()),
            bytes: xml_text(entry, "Content-Length")
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0),
        });
    }
    out
}

/// Keep metadata values to what HTTP headers can carry: printable ASCII.
pub(crate) fn header_safe(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    cleaned.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_keeps_only_snapshots_of_the_state_blob() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><EnumerationResults><Blobs>
            <Blob><Name>prod.json</Name><Snapshot>2026-11-22T05:00:01.0000000Z</Snapshot>
              <Properties><Content-Length>120</Content-Length></Properties>
              <Metadata><meshserial>4</meshserial></Metadata></Blob>
            <Blob><Name>prod.json</Name><Properties><Content-Length>130</Content-Length></Properties></Blob>
            <Blob><Name>prod.json.journal</Name><Snapshot>2026-11-22T05:00:02.0000000Z</Snapshot></Blob>
            <Blob><Name>prod.json</Name><Snapshot>2026-11-22T05:00:00.0000000Z</Snapshot>
              <Properties><Content-Length>100</Content-Length></Properties><Metadata /></Blob>
            </Blobs><NextMarker /></EnumerationResults>"#;
        let found = parse_listing(xml, "prod.json");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].id, "2026-11-22T05:00:01.0000000Z");
        assert_eq!(found[0].serial, Some(4));
        assert_eq!(found[0].bytes, 120);
        assert_eq!(found[1].serial, None);
        assert_eq!(found[1].bytes, 100);
    }

    #[test]
    fn metadata_values_stay_printable_ascii() {
        assert_eq!(header_safe(" renée@host\n"), "ren?e@host?");
    }
}
