//! The WebSocket channel: a notification is pushed to the server's hub, which hands it to every
//! connected `/notifications/ws` client whose filters accept it. Pushing cannot fail; a client
//! that was not connected catches up from the outbox when it reconnects.

use std::sync::Arc;

use serde_json::json;

use super::{Pushed, SendContext};
use crate::notification::Notification;
use crate::retry::DeliveryOutcome;

/// The JSON frame of a notification.
pub fn frame(id: i64, n: &Notification, external_url: &str) -> String {
    let mut ctx = crate::template::context(n, external_url);
    ctx["type"] = json!("notification");
    ctx["id"] = json!(id);
    ctx.to_string()
}

pub(crate) fn send(cx: &SendContext<'_>, n: &Notification) -> DeliveryOutcome {
    let json = frame(cx.id, n, cx.external_url);
    // No subscriber is not a failure: clients resume from the outbox.
    let _ = cx.websocket.send(Arc::new(Pushed {
        id: cx.id,
        notification: n.clone(),
        json,
    }));
    DeliveryOutcome::Sent { status: None }
}
