//! The dashboard's files, embedded in the binary at build time: one HTML page, its styles, its
//! ES modules and an icon. Nothing is fetched from elsewhere at run time, and nothing here is
//! secret (the files are served without a session).

use std::sync::OnceLock;

/// One embedded file.
pub(crate) struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! assets {
    ($($name:literal => $ty:literal),* $(,)?) => {
        /// Every file under `/ui/assets/`.
        pub(crate) const ASSETS: &[Asset] = &[
            $(Asset { name: $name, content_type: $ty, body: include_bytes!(concat!("../../assets/", $name)) },)*
        ];
    };
}

assets! {
    "app.css" => "text/css; charset=utf-8",
    "app.js" => "text/javascript; charset=utf-8",
    "api.js" => "text/javascript; charset=utf-8",
    "live.js" => "text/javascript; charset=utf-8",
    "model.js" => "text/javascript; charset=utf-8",
    "ui.js" => "text/javascript; charset=utf-8",
    "chart.js" => "text/javascript; charset=utf-8",
    "diff.js" => "text/javascript; charset=utf-8",
    "matcher.js" => "text/javascript; charset=utf-8",
    "page-overview.js" => "text/javascript; charset=utf-8",
    "page-alerts.js" => "text/javascript; charset=utf-8",
    "page-alert.js" => "text/javascript; charset=utf-8",
    "page-incident.js" => "text/javascript; charset=utf-8",
    "page-incidents.js" => "text/javascript; charset=utf-8",
    "page-sla.js" => "text/javascript; charset=utf-8",
    "page-silences.js" => "text/javascript; charset=utf-8",
    "page-rules.js" => "text/javascript; charset=utf-8",
    "page-analytics.js" => "text/javascript; charset=utf-8",
    "page-health.js" => "text/javascript; charset=utf-8",
    "page-oncall.js" => "text/javascript; charset=utf-8",
    "page-users.js" => "text/javascript; charset=utf-8",
    "page-teams.js" => "text/javascript; charset=utf-8",
    "page-policies.js" => "text/javascript; charset=utf-8",
    "page-tokens.js" => "text/javascript; charset=utf-8",
    "icon.svg" => "image/svg+xml",
}

/// The page every dashboard URL starts from.
pub(crate) const INDEX: &[u8] = include_bytes!("../../assets/index.html");

/// The named file.
pub(crate) fn find(name: &str) -> Option<(&'static Asset, &'static str)> {
    let i = ASSETS.iter().position(|a| a.name == name)?;
    Some((&ASSETS[i], etags()[i].as_str()))
}

/// The entity tag of the page.
pub(crate) fn index_etag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| tag(INDEX))
}

fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| ASSETS.iter().map(|a| tag(a.body)).collect())
}

fn tag(body: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(body);
    let hex: String = d[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}
