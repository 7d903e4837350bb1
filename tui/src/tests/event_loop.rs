//! The whole loop against a fake daemon on a Unix socket, drawing on a `TestBackend`.

use super::fixture;
use crate::app::App;
use crate::event_loop::run;
use crate::keymap::KeyMap;
use crate::TuiExit;
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use futures::StreamExt;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::PathBuf;
use std::time::Duration;
use swarmux_api::{Client, Request, Response, SearchParams};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

fn socket_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("swarmux-tui-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("control.sock")
}

async fn send(
    stream: &mut tokio::net::unix::OwnedWriteHalf,
    response: &Response,
) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(response).expect("json");
    line.push(b'\n');
    stream.write_all(&line).await
}

/// Answers like the engine: a snapshot on Subscribe, Ok to the rest; returns
/// what it received once it gets `Stop`. Answers after the snapshot may find
/// the TUI already gone (it leaves right after sending `Stop`), which is fine.
async fn fake_daemon(
    listener: UnixListener,
    snapshot_sent: tokio::sync::oneshot::Sender<()>,
) -> Vec<Request> {
    let (stream, _) = listener.accept().await.expect("accept");
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut received = Vec::new();
    let mut snapshot_sent = Some(snapshot_sent);
    while let Ok(Some(line)) = lines.next_line().await {
        let request: Request = serde_json::from_str(&line).expect("request json");
        received.push(request.clone());
        match request {
            Request::Subscribe => {
                send(
                    &mut write,
                    &Response::Snapshot(Box::new(fixture::snapshot())),
                )
                .await
                .expect("write the snapshot");
                if let Some(tx) = snapshot_sent.take() {
                    let _ = tx.send(());
                }
            }
            Request::Stop => {
                let _ = send(&mut write, &Response::Ok).await;
                break;
            }
            _ => {
                let _ = send(&mut write, &Response::Ok).await;
            }
        }
    }
    received
}

fn press(c: char) -> std::io::Result<TermEvent> {
    Ok(TermEvent::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
}

#[tokio::test]
async fn search_then_stop_the_engine() {
    let path = socket_path("stop");
    let listener = UnixListener::bind(&path).expect("bind");
    let (snapshot_tx, snapshot_rx) = tokio::sync::oneshot::channel();
    let daemon = tokio::spawn(fake_daemon(listener, snapshot_tx));

    let (reader, writer) = Client::connect(&path).await.expect("connect").into_split();
    let mut app = App::new(KeyMap::load(None).expect("keys"));
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    // Type only once the snapshot is on its way, and give the loop time to read it.
    let mut keys: Vec<std::io::Result<TermEvent>> = "/ubuntu size>1M".chars().map(press).collect();
    keys.push(Ok(TermEvent::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    ))));
    keys.extend(['Q', 'y'].map(press));
    let input = futures::stream::once(async move {
        let _ = snapshot_rx.await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        futures::stream::iter(keys)
    })
    .flatten();
    let input = Box::pin(input);

    let exit = tokio::time::timeout(
        Duration::from_secs(10),
        run(&mut terminal, input, &mut app, reader, writer),
    )
    .await
    .expect("the loop ends")
    .expect("no error");
    assert_eq!(exit, TuiExit::StopEngine);
    let received = tokio::time::timeout(Duration::from_secs(5), daemon)
        .await
        .expect("the daemon got Stop")
        .expect("daemon task");
    assert_eq!(
        received,
        vec![
            Request::Subscribe,
            Request::Search(SearchParams {
                text: "ubuntu".into(),
                min_size: Some(1 << 20),
                ..SearchParams::default()
            }),
            Request::Stop,
        ]
    );
    assert_eq!(app.seq, Some(42), "the pushed snapshot was applied");
    let screen: String = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(screen.contains("Search: ubuntu iso"), "{screen}");
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[tokio::test]
async fn a_vanished_daemon_ends_the_loop_with_an_error() {
    let path = socket_path("gone");
    let listener = UnixListener::bind(&path).expect("bind");
    let daemon = tokio::spawn(async move {
        let (stream, _): (UnixStream, _) = listener.accept().await.expect("accept");
        drop(stream);
    });
    let (reader, writer) = Client::connect(&path).await.expect("connect").into_split();
    let mut app = App::new(KeyMap::load(None).expect("keys"));
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    let input = futures::stream::pending();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        run(&mut terminal, input, &mut app, reader, writer),
    )
    .await
    .expect("the loop ends");
    let err = result.expect_err("the daemon went away");
    assert!(format!("{err:#}").contains("closed"), "{err:#}");
    daemon.await.expect("daemon task");
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}
