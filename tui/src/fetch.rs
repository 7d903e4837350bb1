//! Lists that snapshots leave out — a download's files, the shared files —
//! are asked for while a view shows them: the files of the selected download
//! while the Downloads pane is up (again every tick, as their progress moves),
//! the shared files while the Shares pane is up and whenever they change.
//! One request of each kind is in flight at a time.

use crate::app::{App, Pane, Pending};
use crate::update::Effects;
use swarmux_api::{Request, Response};

/// Asks for what the current view shows and does not have; `refresh` asks
/// again for the open download's files even if they are there.
pub fn ask(app: &mut App, fx: &mut Effects, refresh: bool) {
    match app.ui.pane {
        Pane::Downloads => {
            let Some(d) = app.selected_download().filter(|d| d.file_count > 0) else {
                return;
            };
            let id = d.id;
            let have = app.fetched.files.as_ref().is_some_and(|(of, _)| *of == id);
            if !app.fetched.files_asked && (!have || refresh) {
                app.fetched.files_asked = true;
                app.pending.push_back(Pending::Fetch);
                fx.requests.push(Request::Files { id });
            }
        }
        Pane::Shares => {
            let revision = app.snapshot.shares.revision;
            let current = app
                .fetched
                .shared
                .as_ref()
                .is_some_and(|(r, _)| *r == revision);
            if !app.fetched.shared_asked && !current {
                app.fetched.shared_asked = true;
                app.pending.push_back(Pending::Fetch);
                fx.requests.push(Request::SharedFiles);
            }
        }
        _ => {}
    }
}

/// Takes the answer to a fetch; true when the screen changed.
pub fn answered(app: &mut App, answer: Response) -> bool {
    match answer {
        Response::Files { id, files } => {
            app.fetched.files_asked = false;
            app.fetched.files = Some((id, files));
            true
        }
        Response::SharedFiles { revision, files } => {
            app.fetched.shared_asked = false;
            app.fetched.shared = Some((revision, files));
            true
        }
        // The download went away meanwhile: the next view asks again.
        _ => {
            app.fetched.files_asked = false;
            app.fetched.shared_asked = false;
            false
        }
    }
}
