//! The OCI distribution API, the protocol `docker pull` and `docker push` speak, by hand:
//! learnctr's client is the lesson.
//!
//! A pull is a handful of HTTP requests:
//!
//! 1. `GET /v2/`: is this a registry? `401` with `WWW-Authenticate: Bearer realm=…` says where
//!    to get a token (Docker Hub hands anonymous pull tokens out at `auth.docker.io`).
//! 2. `GET /v2/NAME/manifests/TAG` with an `Accept` of the manifest types we read: an *index*
//!    (one manifest per platform) or a *manifest*; from an index, the one for this machine.
//! 3. `GET /v2/NAME/blobs/DIGEST` for the config and each layer not already in the store.
//!
//! Everything is addressed by digest, so everything is checked: each manifest and blob is
//! hashed as it arrives and kept only if its SHA-256 is the digest asked for. A push is the
//! same in reverse: `HEAD` each blob, `POST` an upload and `PUT` the bytes for the missing
//! ones, then `PUT` the manifest under its tag. Plain HTTP is spoken only to a registry on
//! this machine; elsewhere HTTPS, and redirects must stay on HTTPS.

use std::time::Duration;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use ureq::http::Response;
use ureq::Body;

use super::{fail, media, Reference};
use crate::course::Failure;
use crate::image::store::{parse_json, Store, JSON_LIMIT};

/// The manifest types a pull asks for, most wanted first.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// The largest blob learnctr pulls (a registry's manifest could announce any size).
const MAX_BLOB: u64 = 8 << 30;

/// One HTTP request, as the lesson shows it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    pub status: u16,
    /// What came back that matters (a challenge, a digest, a size), or empty.
    pub note: String,
}

impl std::fmt::Display for Call {
    /// Digests cut to 12 digits and an upload's opaque `_state` left out, so a line fits.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = shorten_digests(&drop_state(&self.path));
        write!(f, "{} {} → {}", self.method, path, self.status)?;
        if !self.note.is_empty() {
            write!(f, "  {}", shorten_digests(&self.note))?;
        }
        Ok(())
    }
}

/// `sha256:` + 64 hex digits → `sha256:` + 12.
fn shorten_digests(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("sha256:") {
        let (before, after) = rest.split_at(i + 7);
        out.push_str(before);
        let hex_len = after.bytes().take_while(u8::is_ascii_hexdigit).count();
        out.push_str(&after[..hex_len.min(12)]);
        if hex_len > 12 {
            out.push('…');
        }
        rest = &after[hex_len..];
    }
    out.push_str(rest);
    out
}

/// The registry's `_state=…` query parameter (an opaque token) is not part of the lesson.
fn drop_state(path: &str) -> String {
    let Some((base, query)) = path.split_once('?') else { return path.to_string() };
    let kept: Vec<&str> = query.split('&').filter(|p| !p.starts_with("_state=")).collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

pub struct Client {
    reference: Reference,
    agent: ureq::Agent,
    token: Option<String>,
    /// Every request made, in order.
    pub calls: Vec<Call>,
}

impl Client {
    pub fn new(reference: &Reference) -> Client {
        let t = Duration::from_secs(20);
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(t))
            .timeout_recv_response(Some(t))
            .timeout_per_read(Some(t * 3));
        // A registry on this machine has no reason to send us elsewhere; one outside may send
        // blobs to a CDN, over HTTPS only.
        let config = if reference.is_loopback() { config.max_redirects(0) } else { config.https_only(true) };
        Client { reference: reference.clone(), agent: config.build().new_agent(), token: None, calls: Vec::new() }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.reference.base_url())
        }
    }

    /// One request; on a first `401` with a Bearer challenge, get a token and ask once more.
    fn request(
        &mut self,
        method: &'static str,
        path: &str,
        accept: Option<&str>,
        body: Option<(&str, &[u8])>,
        scope: &str,
    ) -> Result<Response<Body>, Failure> {
        for attempt in 0..2 {
            let url = self.url(path);
            let mut req = ureq::http::Request::builder().method(method).uri(&url);
            if let Some(accept) = accept {
                req = req.header("Accept", accept);
            }
            if let Some(token) = &self.token {
                req = req.header("Authorization", format!("Bearer {token}"));
            }
            if let Some((content_type, _)) = body {
                req = req.header("Content-Type", content_type);
            }
            let req =
                req.body(body.map(|(_, b)| b.to_vec()).unwrap_or_default()).map_err(|_| self.unreachable(&url))?;
            let resp = self.agent.run(req).map_err(|_| self.unreachable(&url))?;
            let status = resp.status().as_u16();
            let challenge = header(&resp, "www-authenticate");
            let shown = path.strip_prefix(&self.reference.base_url()).unwrap_or(path).to_string();
            let note = match (status, &challenge) {
                (401, Some(c)) => c.clone(),
                _ => header(&resp, "docker-content-digest").unwrap_or_default(),
            };
            self.calls.push(Call { method, path: shown, status, note });
            match (status, challenge) {
                (401, Some(c)) if attempt == 0 && c.to_ascii_lowercase().starts_with("bearer ") => {
                    self.login(&c, scope)?
                }
                _ => return Ok(resp),
            }
        }
        Err(fail("image.err.denied", &[("registry", &self.reference.registry)]))
    }

    /// Get an anonymous token from the challenge's realm, for `scope` (`pull`, `pull,push`).
    fn login(&mut self, challenge: &str, scope: &str) -> Result<(), Failure> {
        let params = challenge_params(&challenge[7..]);
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let realm = get("realm").ok_or_else(|| fail("image.err.denied", &[("registry", &self.reference.registry)]))?;
        let realm_ref_is_local = Reference { registry: host_of(&realm), ..self.reference.clone() }.is_loopback();
        if !realm.starts_with("https://") && !realm_ref_is_local {
            return Err(fail("image.err.plain_http_realm", &[("realm", &realm)]));
        }
        let mut url = format!("{realm}?scope=repository:{}:{scope}", self.reference.repository);
        if let Some(service) = get("service") {
            url.push_str(&format!("&service={service}"));
        }
        let resp = self.agent.get(&url).call().map_err(|_| self.unreachable(&url))?;
        let status = resp.status().as_u16();
        self.calls.push(Call { method: "GET", path: url.clone(), status, note: "token".into() });
        if status != 200 {
            return Err(fail("image.err.denied", &[("registry", &self.reference.registry)]));
        }
        let bytes = read_limited(resp, JSON_LIMIT, &url)?;
        let answer: serde_json::Value = parse_json(&bytes, "token")?;
        let token = answer.get("token").or_else(|| answer.get("access_token")).and_then(|t| t.as_str());
        self.token =
            Some(token.ok_or_else(|| fail("image.err.denied", &[("registry", &self.reference.registry)]))?.to_string());
        Ok(())
    }

    fn unreachable(&self, url: &str) -> Failure {
        fail("image.err.unreachable", &[("registry", &self.reference.registry), ("url", &url)])
    }

    /// `GET /v2/`: is this a registry we may speak to?
    pub fn ping(&mut self, scope: &str) -> Result<(), Failure> {
        let resp = self.request("GET", "/v2/", None, None, scope)?;
        match resp.status().as_u16() {
            200 => Ok(()),
            status => Err(self.status_fail(status, "/v2/")),
        }
    }

    fn status_fail(&self, status: u16, what: &str) -> Failure {
        match status {
            401 | 403 => fail("image.err.denied", &[("registry", &self.reference.registry)]),
            404 if what.starts_with("sha256:") => {
                fail("image.err.blob_not_on_registry", &[("name", &self.reference), ("digest", &what)])
            }
            404 => fail("image.err.not_on_registry", &[("name", &self.reference)]),
            _ => fail(
                "image.err.status",
                &[("registry", &self.reference.registry), ("status", &status), ("what", &what)],
            ),
        }
    }

    /// A manifest or index by tag or digest: its media type and bytes, checked against the
    /// digest when it was asked for by one.
    pub fn manifest(&mut self, reference: &str, expected: Option<&str>) -> Result<(String, Vec<u8>), Failure> {
        let path = format!("/v2/{}/manifests/{reference}", self.reference.repository);
        let resp = self.request("GET", &path, Some(ACCEPT), None, "pull")?;
        if resp.status().as_u16() != 200 {
            return Err(self.status_fail(resp.status().as_u16(), reference));
        }
        let media_type = header(&resp, "content-type").unwrap_or_default();
        let bytes = read_limited(resp, JSON_LIMIT, &path)?;
        let digest = super::sha256_digest(&bytes);
        if let Some(expected) = expected {
            if digest != expected {
                return Err(fail(
                    "image.err.digest_mismatch",
                    &[("what", &path), ("expected", &expected), ("got", &digest)],
                ));
            }
        }
        Ok((media_type, bytes))
    }

    /// A blob, into the store, checked (a blob already there is not asked for again).
    pub fn fetch_blob(&mut self, store: &Store, desc: &Descriptor) -> Result<bool, Failure> {
        let digest = desc.digest().to_string();
        if store.has_blob(&digest) {
            return Ok(false);
        }
        let path = format!("/v2/{}/blobs/{digest}", self.reference.repository);
        let resp = self.request("GET", &path, None, None, "pull")?;
        if resp.status().as_u16() != 200 {
            return Err(self.status_fail(resp.status().as_u16(), &digest));
        }
        let reader = resp.into_body().into_with_config().limit(desc.size().saturating_add(1)).reader();
        store.write_blob(reader, Some(desc), &path)?;
        Ok(true)
    }

    /// `HEAD` a blob: does the registry have it already?
    pub fn has_blob(&mut self, digest: &str) -> Result<bool, Failure> {
        let path = format!("/v2/{}/blobs/{digest}", self.reference.repository);
        Ok(self.request("HEAD", &path, None, None, "pull,push")?.status().as_u16() == 200)
    }

    /// A monolithic upload: `POST` for a place, `PUT` the bytes there with their digest.
    pub fn upload_blob(&mut self, digest: &str, bytes: &[u8]) -> Result<(), Failure> {
        let path = format!("/v2/{}/blobs/uploads/", self.reference.repository);
        let resp = self.request("POST", &path, None, Some(("application/octet-stream", &[])), "pull,push")?;
        let location = header(&resp, "location");
        let (202, Some(location)) = (resp.status().as_u16(), location) else {
            return Err(self.status_fail(resp.status().as_u16(), &path));
        };
        // The upload goes where the registry said, but only on the registry itself: a plain
        // HTTP registry on this machine must not send a blob to another host.
        if (location.starts_with("http://") || location.starts_with("https://"))
            && host_of(&location) != self.reference.api_host()
        {
            return Err(fail("image.err.upload_elsewhere", &[("location", &location)]));
        }
        let sep = if location.contains('?') { '&' } else { '?' };
        let put = format!("{location}{sep}digest={digest}");
        let resp = self.request("PUT", &put, None, Some(("application/octet-stream", bytes)), "pull,push")?;
        match resp.status().as_u16() {
            201 => Ok(()),
            status => Err(self.status_fail(status, digest)),
        }
    }

    pub fn put_manifest(&mut self, tag: &str, media_type: &str, bytes: &[u8]) -> Result<(), Failure> {
        let path = format!("/v2/{}/manifests/{tag}", self.reference.repository);
        let resp = self.request("PUT", &path, None, Some((media_type, bytes)), "pull,push")?;
        match resp.status().as_u16() {
            201 => Ok(()),
            status => Err(self.status_fail(status, tag)),
        }
    }
}

/// What a pull did.
pub struct Pulled {
    pub name: String,
    pub manifest_digest: String,
    pub fetched: usize,
    pub cached: usize,
    pub calls: Vec<Call>,
}

/// `learnctr image pull`: index → manifest for this platform → config and layers, each
/// checked, then every layer read through (its diff_id and its entries, see `check.rs`);
/// only then does the image get its name. A failure leaves no blob of its own behind.
pub fn pull(store: &Store, reference: &Reference) -> Result<Pulled, Failure> {
    let mut client = Client::new(reference);
    let _lock = store.lock()?;
    let result = pull_locked(store, &mut client, reference);
    if result.is_err() {
        let _ = store.remove_unused_blobs();
    }
    let (manifest_digest, fetched, cached) = result?;
    Ok(Pulled { name: reference.to_string(), manifest_digest, fetched, cached, calls: client.calls })
}

fn pull_locked(store: &Store, client: &mut Client, reference: &Reference) -> Result<(String, usize, usize), Failure> {
    client.ping("pull")?;
    let (mut media_type, mut bytes) = client.manifest(reference.manifest_ref(), reference.digest.as_deref())?;
    if media::is_index(&media_type, &bytes) {
        let index: ImageIndex = parse_json(&bytes, "index")?;
        let chosen = media::for_this_platform(&index)?;
        let digest = chosen.digest().to_string();
        (media_type, bytes) = client.manifest(&digest, Some(&digest))?;
    }
    media::check_manifest_type(&media_type, &bytes)?;
    let manifest: ImageManifest = parse_json(&bytes, "manifest")?;
    media::check_layers(&manifest)?;
    let mut fetched = 0;
    let mut cached = 0;
    for desc in std::iter::once(manifest.config()).chain(manifest.layers()) {
        if desc.size() > MAX_BLOB {
            return Err(fail(
                "image.err.blob_too_large",
                &[("digest", &desc.digest()), ("size", &desc.size()), ("limit_gib", &(MAX_BLOB >> 30))],
            ));
        }
        if client.fetch_blob(store, desc)? {
            fetched += 1;
        } else {
            cached += 1;
        }
    }
    let manifest_blob = store.write_blob(&bytes[..], None, "manifest")?;
    super::check::image(store, &manifest)?;
    let desc = manifest_blob.descriptor(media::manifest_media_type(&manifest, &media_type));
    store.tag(&reference.to_string(), &desc)?;
    Ok((manifest_blob.digest, fetched, cached))
}

/// What a push did.
pub struct Pushed {
    pub uploaded: usize,
    pub present: usize,
    pub calls: Vec<Call>,
}

/// `learnctr image push`: the blobs the registry lacks, then the manifest under the tag.
pub fn push(store: &Store, image: &super::store::Image, dest: &Reference) -> Result<Pushed, Failure> {
    let mut client = Client::new(dest);
    client.ping("pull,push")?;
    let (mut uploaded, mut present) = (0, 0);
    for desc in std::iter::once(image.manifest.config()).chain(image.manifest.layers()) {
        let digest = desc.digest().to_string();
        if client.has_blob(&digest)? {
            present += 1;
            continue;
        }
        // The whole blob in memory: the course's images are a few megabytes.
        let bytes =
            std::fs::read(store.blob_path(&digest)).map_err(|e| super::store::io_fail(&store.blob_path(&digest), e))?;
        client.upload_blob(&digest, &bytes)?;
        uploaded += 1;
    }
    let bytes = store.read_json_blob(&image.manifest_digest)?;
    let media_type = media::manifest_media_type(&image.manifest, "").to_string();
    let tag = dest.tag.as_deref().unwrap_or("latest");
    client.put_manifest(tag, &media_type, &bytes)?;
    Ok(Pushed { uploaded, present, calls: client.calls })
}

fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn read_limited(resp: Response<Body>, limit: u64, what: &str) -> Result<Vec<u8>, Failure> {
    resp.into_body()
        .into_with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|_| fail("image.err.read", &[("what", &what), ("why", &crate::i18n::t("image.why.too_large_or_cut"))]))
}

/// `realm="https://auth.docker.io/token",service="registry.docker.io"` → pairs.
fn challenge_params(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => match quoted.split_once('"') {
                Some((v, n)) => (v.to_string(), n),
                None => (quoted.to_string(), ""),
            },
            None => match after.split_once(',') {
                Some((v, n)) => (v.trim().to_string(), n),
                None => (after.trim().to_string(), ""),
            },
        };
        out.push((key, value));
        rest = next.trim_start_matches(',').trim();
    }
    out
}

/// The `host[:port]` of a URL.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bearer_challenge_is_read() {
        let p = super::challenge_params(
            r#"realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        );
        assert_eq!(p[0], ("realm".into(), "https://auth.docker.io/token".into()));
        assert_eq!(p[1], ("service".into(), "registry.docker.io".into()));
        assert_eq!(p[2].1, "repository:library/alpine:pull");
        assert_eq!(super::host_of("http://127.0.0.1:5001/token?x"), "127.0.0.1:5001");
    }
}
