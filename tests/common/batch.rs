//! An in-process fake of the OpenAI Batch API: file upload and download, batches created,
//! read, listed and cancelled. Each read of a batch moves it one state on (validating →
//! in_progress → finalizing → completed); on completion every input line is answered by the
//! script, the output file in shuffled order and failures in an error file. An `expire`
//! fake answers only the first half of the lines and ends `expired`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// What the fake answers to one request body: the answer's text and usage, or an error
/// status and message.
pub type Script = dyn Fn(&Value) -> Result<(String, Value), (u16, String)> + Send + Sync;

#[derive(Default)]
pub struct Api {
    pub files: HashMap<String, Vec<u8>>,
    pub batches: HashMap<String, Value>,
    /// The order batches were created in.
    pub created: Vec<String>,
    pub uploads: usize,
    pub downloads: usize,
}

pub struct BatchFake {
    pub url: String,
    pub api: Arc<Mutex<Api>>,
}

struct Shared {
    api: Arc<Mutex<Api>>,
    script: Box<Script>,
    expire: bool,
}

const STATES: [&str; 4] = ["validating", "in_progress", "finalizing", "completed"];

fn finish(s: &Shared, api: &mut Api, id: &str, status: &str) {
    let input_id = api.batches[id]["input_file_id"].as_str().unwrap().to_owned();
    let input = String::from_utf8(api.files[&input_id].clone()).unwrap();
    let lines: Vec<&str> = input.lines().collect();
    let answered = if status == "completed" {
        lines.len()
    } else {
        lines.len() / 2
    };
    let (mut out, mut errors) = (Vec::new(), Vec::new());
    for (i, l) in lines[..answered].iter().enumerate() {
        let v: Value = serde_json::from_str(l).unwrap();
        let custom_id = v["custom_id"].clone();
        match (s.script)(&v["body"]) {
            Ok((content, usage)) => out.push(json!({
                "id": format!("req_{i}"), "custom_id": custom_id, "error": null,
                "response": {"status_code": 200, "request_id": format!("r{i}"), "body": {
                    "id": format!("chatcmpl-{i}"), "object": "chat.completion",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                    "usage": usage,
                }},
            })),
            Err((code, message)) => errors.push(json!({
                "id": format!("req_{i}"), "custom_id": custom_id, "error": null,
                "response": {"status_code": code, "request_id": format!("r{i}"), "body": {"error": {"message": message, "type": "invalid_request_error"}}},
            })),
        }
    }
    // Shuffled, as the API promises no order: odd lines first, then even, reversed.
    let mut shuffled: Vec<Value> = out.iter().skip(1).step_by(2).cloned().collect();
    shuffled.extend(out.iter().step_by(2).rev().cloned());
    let file = |api: &mut Api, name: &str, lines: &[Value]| {
        if lines.is_empty() {
            return Value::Null;
        }
        let id = format!("file-{name}-{id}");
        let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        text.push('\n');
        api.files.insert(id.clone(), text.into_bytes());
        Value::String(id)
    };
    let output = file(api, "out", &shuffled);
    let error = file(api, "err", &errors);
    let b = api.batches.get_mut(id).unwrap();
    b["status"] = status.into();
    b["output_file_id"] = output;
    b["error_file_id"] = error;
    b["completed_at"] = 1_764_000_000.into();
    b["request_counts"] = json!({"total": lines.len(), "completed": out.len(), "failed": errors.len()});
}

pub fn start(
    script: impl Fn(&Value) -> Result<(String, Value), (u16, String)> + Send + Sync + 'static,
    expire: bool,
) -> BatchFake {
    start_beside(script, expire, axum::Router::new())
}

/// The Batch API fake with other routes on the same server (a chat fake for a judge).
pub fn start_beside(
    script: impl Fn(&Value) -> Result<(String, Value), (u16, String)> + Send + Sync + 'static,
    expire: bool,
    beside: axum::Router,
) -> BatchFake {
    let api: Arc<Mutex<Api>> = Arc::default();
    let shared = Arc::new(Shared {
        api: api.clone(),
        script: Box::new(script),
        expire,
    });
    let app = axum::Router::new()
        .route(
            "/v1/files",
            post(|State(s): State<Arc<Shared>>, mut form: Multipart| async move {
                let (mut purpose, mut bytes) = (String::new(), Vec::new());
                while let Some(field) = form.next_field().await.unwrap() {
                    match field.name() {
                        Some("purpose") => purpose = field.text().await.unwrap(),
                        Some("file") => bytes = field.bytes().await.unwrap().to_vec(),
                        _ => {}
                    }
                }
                assert_eq!(purpose, "batch");
                let mut api = s.api.lock().unwrap();
                api.uploads += 1;
                let id = format!("file-in-{}", api.uploads);
                let len = bytes.len();
                api.files.insert(id.clone(), bytes);
                Json(json!({"id": id, "object": "file", "bytes": len, "purpose": "batch"}))
            }),
        )
        .route(
            "/v1/files/{id}/content",
            get(|State(s): State<Arc<Shared>>, Path(id): Path<String>| async move {
                let mut api = s.api.lock().unwrap();
                api.downloads += 1;
                api.files[&id].clone()
            }),
        )
        .route(
            "/v1/batches",
            post(|State(s): State<Arc<Shared>>, Json(req): Json<Value>| async move {
                let mut api = s.api.lock().unwrap();
                let id = format!("batch_{}", api.created.len() + 1);
                assert_eq!(req["completion_window"], "24h");
                assert!(api.files.contains_key(req["input_file_id"].as_str().unwrap()));
                let b = json!({
                    "id": id, "object": "batch", "status": "validating",
                    "endpoint": req["endpoint"], "input_file_id": req["input_file_id"],
                    "metadata": req["metadata"], "output_file_id": null, "error_file_id": null,
                    "request_counts": {"total": 0, "completed": 0, "failed": 0},
                });
                api.batches.insert(id.clone(), b.clone());
                api.created.push(id);
                Json(b)
            })
            .get(|State(s): State<Arc<Shared>>| async move {
                let api = s.api.lock().unwrap();
                let data: Vec<Value> = api.created.iter().map(|id| api.batches[id].clone()).collect();
                Json(json!({"object": "list", "data": data}))
            }),
        )
        .route(
            "/v1/batches/{id}",
            get(|State(s): State<Arc<Shared>>, Path(id): Path<String>| async move {
                let mut api = s.api.lock().unwrap();
                let status = api.batches[&id]["status"].as_str().unwrap().to_owned();
                let next = match status.as_str() {
                    "cancelling" => Some("cancelled"),
                    "finalizing" if s.expire => Some("expired"),
                    st => STATES
                        .iter()
                        .position(|x| *x == st)
                        .and_then(|i| STATES.get(i + 1))
                        .copied(),
                };
                match next {
                    Some(n @ ("completed" | "expired" | "cancelled")) => finish(&s, &mut api, &id, n),
                    Some(n) => api.batches.get_mut(&id).unwrap()["status"] = n.into(),
                    None => {}
                }
                Json(api.batches[&id].clone())
            }),
        )
        .route(
            "/v1/batches/{id}/cancel",
            post(|State(s): State<Arc<Shared>>, Path(id): Path<String>| async move {
                let mut api = s.api.lock().unwrap();
                let b = api.batches.get_mut(&id).unwrap();
                b["status"] = "cancelling".into();
                Json(b.clone())
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(shared)
        .merge(beside);
    BatchFake {
        url: format!("{}/v1", super::serve_in_thread(app)),
        api,
    }
}
