//! The sending end of a network's event channel, for its tasks to share.

use crate::message::{LogLevel, NetEvent};
use tokio::sync::mpsc;

/// Where a network's tasks send their events to the engine. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EventSink(mpsc::UnboundedSender<NetEvent>);

impl EventSink {
    /// A sink sending into `events`.
    pub fn new(events: mpsc::UnboundedSender<NetEvent>) -> Self {
        EventSink(events)
    }

    /// Sends an event; a closed engine only means the process is shutting down.
    pub fn emit(&self, event: NetEvent) {
        let _ = self.0.send(event);
    }

    /// Sends a log line at the given level.
    pub fn log(&self, level: LogLevel, message: impl Into<String>) {
        self.emit(NetEvent::Log {
            level,
            message: message.into(),
        });
    }
}

impl From<mpsc::UnboundedSender<NetEvent>> for EventSink {
    fn from(events: mpsc::UnboundedSender<NetEvent>) -> Self {
        EventSink::new(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emits_and_logs_and_ignores_a_closed_engine() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sink = EventSink::from(tx);
        sink.emit(NetEvent::Uploaded(3));
        sink.log(LogLevel::Info, "hello");
        assert!(matches!(rx.try_recv(), Ok(NetEvent::Uploaded(3))));
        assert!(matches!(
            rx.try_recv(),
            Ok(NetEvent::Log { level: LogLevel::Info, message }) if message == "hello"
        ));
        drop(rx);
        sink.emit(NetEvent::Uploaded(4));
    }
}
