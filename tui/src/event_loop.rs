//! The loop: terminal input, daemon lines and a clock tick go through
//! `update`; requests go out through a writer task. Nothing here awaits the
//! daemon while drawing, so a slow daemon never freezes the screen.

use crate::app::App;
use crate::ui;
use crate::update::{update, Effects, Event};
use crate::TuiExit;
use anyhow::{anyhow, Context};
use crossterm::event::Event as TermEvent;
use futures::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::Terminal;
use std::time::Duration;
use swarmux_api::client::{RequestWriter, ResponseReader};
use swarmux_api::{ClientError, Request, Response};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// How often messages age; nothing is redrawn on a tick unless one expires.
const TICK: Duration = Duration::from_secs(1);

/// How long to wait for the last requests (such as `Stop`) to be written.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs until the user detaches or stops the engine, or the daemon goes away.
/// `input` is crossterm's `EventStream` in real use.
pub async fn run<B, I>(
    terminal: &mut Terminal<B>,
    mut input: I,
    app: &mut App,
    reader: ResponseReader,
    writer: RequestWriter,
) -> anyhow::Result<TuiExit>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    I: Stream<Item = std::io::Result<TermEvent>> + Unpin,
{
    let (requests, outgoing) = mpsc::unbounded_channel();
    let writer_task = tokio::spawn(write_requests(writer, outgoing));
    // The reader runs in its own task: reading a line is not cancel-safe, so
    // it must not be a branch of the select below.
    let (lines_tx, mut lines) = mpsc::channel(64);
    let reader_task = tokio::spawn(read_responses(reader, lines_tx));

    let result = async {
        requests
            .send(Request::Subscribe)
            .map_err(|_| anyhow!("the daemon connection closed"))?;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut terminate = signal(SignalKind::terminate())?;
        let mut hangup = signal(SignalKind::hangup())?;

        let size = terminal.size()?;
        update(app, Event::Resize(size.width, size.height));
        terminal.draw(|frame| ui::render(app, frame))?;
        loop {
            let mut fx = tokio::select! {
                event = input.next() => match event {
                    Some(Ok(TermEvent::Key(key))) => update(app, Event::Key(key)),
                    Some(Ok(TermEvent::Resize(cols, rows))) => update(app, Event::Resize(cols, rows)),
                    Some(Ok(_)) => Effects::default(),
                    Some(Err(e)) => return Err(anyhow::Error::from(e).context("reading the terminal")),
                    None => return Ok(TuiExit::Detach),
                },
                line = lines.recv() => daemon_line(app, line)?,
                _ = tick.tick() => update(app, Event::Tick),
                _ = terminate.recv() => return Ok(TuiExit::Detach),
                _ = hangup.recv() => return Ok(TuiExit::Detach),
            };
            // Take everything the daemon already sent before drawing once.
            while fx.exit.is_none() {
                match lines.try_recv() {
                    Ok(line) => fx.merge(daemon_line(app, Some(line))?),
                    Err(_) => break,
                }
            }
            for request in fx.requests {
                // A closed writer means a lost connection, which the reader reports.
                let _ = requests.send(request);
            }
            if let Some(exit) = fx.exit {
                return Ok(exit);
            }
            if fx.redraw {
                terminal.draw(|frame| ui::render(app, frame))?;
            }
        }
    }
    .await;

    reader_task.abort();
    drop(requests);
    // Let the writer finish, so a final `Stop` reaches the daemon.
    let _ = tokio::time::timeout(FLUSH_TIMEOUT, writer_task).await;
    result
}

/// Feeds one line from the reader task to `update`; a read error ends the TUI.
fn daemon_line(
    app: &mut App,
    line: Option<Result<Response, ClientError>>,
) -> anyhow::Result<Effects> {
    match line {
        Some(Ok(response)) => Ok(update(app, Event::Daemon(response))),
        Some(Err(e)) => Err(e).context("the TUI lost the daemon"),
        None => Err(anyhow!("the daemon connection closed")),
    }
}

async fn read_responses(
    mut reader: ResponseReader,
    lines: mpsc::Sender<Result<Response, ClientError>>,
) {
    loop {
        let line = reader.recv().await;
        let failed = line.is_err();
        if lines.send(line).await.is_err() || failed {
            return;
        }
    }
}

async fn write_requests(mut writer: RequestWriter, mut outgoing: mpsc::UnboundedReceiver<Request>) {
    while let Some(request) = outgoing.recv().await {
        if writer.send(&request).await.is_err() {
            return;
        }
    }
}
