//! The sans-IO server core: logged-in clients, id assignment and the answer
//! to every client message. The tokio layer feeds it decoded messages and
//! delivers what it returns.

use super::index::{ConnId, FileIndex, SearchJob, SEARCH_WORK};
use crate::proto::search::SearchTree;
use crate::proto::server_msg::{
    ip_to_u32, login_flags, server_flags, ClientToServer, LoginRequest, ServerToClient,
};
use crate::proto::tag::{ids, Tag};
use std::collections::HashMap;
use std::net::SocketAddrV4;

/// TCP flags advertised in OP_IDCHANGE: only what this server implements —
/// zlib-packed frames, new-style tags, UTF-8 strings and files over 4 GiB.
pub const SERVER_TCP_FLAGS: u32 = server_flags::COMPRESSION
    | server_flags::NEWTAGS
    | server_flags::UNICODE
    | server_flags::LARGEFILES;

/// Largest low id handed out (ids below 2^24 are low ids).
const MAX_LOW_ID: u32 = 0x00FF_FFFF;

/// What the server says about itself.
#[derive(Clone, Debug)]
pub struct ServerIdentity {
    pub hash: [u8; 16],
    pub name: String,
    pub description: String,
    pub message: String,
}

/// A logged-in client.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    /// Where the connection comes from.
    pub addr: SocketAddrV4,
    /// The id given at login: its IPv4 (high) or a small number (low).
    pub id: u32,
    /// The TCP port it listens on.
    pub port: u16,
    pub user_hash: [u8; 16],
    pub name: String,
    /// Capability flags from its login.
    pub flags: u32,
}

/// A client's search under way (see [`ServerCore::start_search`]).
#[derive(Debug)]
pub struct PendingSearch {
    conn: ConnId,
    job: SearchJob,
}

/// A message for one connection.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub to: ConnId,
    pub msg: ServerToClient,
}

/// Clients, ids and the file index.
#[derive(Debug)]
pub struct ServerCore {
    identity: ServerIdentity,
    max_files_per_client: usize,
    max_results: usize,
    clients: HashMap<ConnId, ClientInfo>,
    low_ids: HashMap<u32, ConnId>,
    next_low: u32,
    index: FileIndex,
}

impl ServerCore {
    /// An empty server.
    pub fn new(identity: ServerIdentity, max_files_per_client: usize, max_results: usize) -> Self {
        ServerCore {
            identity,
            max_files_per_client,
            max_results,
            clients: HashMap::new(),
            low_ids: HashMap::new(),
            next_low: 1,
            index: FileIndex::default(),
        }
    }

    /// Logged-in clients.
    pub fn user_count(&self) -> usize {
        self.clients.len()
    }

    /// Distinct files indexed.
    pub fn file_count(&self) -> usize {
        self.index.file_count()
    }

    /// A logged-in client.
    pub fn client(&self, conn: ConnId) -> Option<&ClientInfo> {
        self.clients.get(&conn)
    }

    fn alloc_low_id(&mut self) -> u32 {
        loop {
            let id = self.next_low;
            self.next_low = if id >= MAX_LOW_ID { 1 } else { id + 1 };
            if !self.low_ids.contains_key(&id) {
                return id;
            }
        }
    }

    /// Registers a client whose port check passed (`reachable`) or not, and
    /// returns the welcome: message, id change, status, server ident.
    pub fn login(
        &mut self,
        conn: ConnId,
        addr: SocketAddrV4,
        server_addr: SocketAddrV4,
        login: &LoginRequest,
        reachable: bool,
    ) -> Vec<ServerToClient> {
        self.disconnect(conn);
        let id = if reachable {
            ip_to_u32(*addr.ip())
        } else {
            let id = self.alloc_low_id();
            self.low_ids.insert(id, conn);
            id
        };
        self.clients.insert(
            conn,
            ClientInfo {
                addr,
                id,
                port: login.port,
                user_hash: login.user_hash,
                name: login.name().unwrap_or("").to_string(),
                flags: login.flags(),
            },
        );
        let mut out = Vec::new();
        if !self.identity.message.is_empty() {
            out.push(ServerToClient::ServerMessage(self.identity.message.clone()));
        }
        out.push(ServerToClient::IdChange {
            id,
            tcp_flags: Some(SERVER_TCP_FLAGS),
        });
        out.push(self.status());
        out.push(self.ident(server_addr));
        out
    }

    fn status(&self) -> ServerToClient {
        ServerToClient::ServerStatus {
            users: self.clients.len() as u32,
            files: self.index.file_count() as u32,
        }
    }

    fn ident(&self, server_addr: SocketAddrV4) -> ServerToClient {
        ServerToClient::ServerIdent {
            hash: self.identity.hash,
            ip: ip_to_u32(*server_addr.ip()),
            port: server_addr.port(),
            tags: vec![
                Tag::str(ids::NAME, self.identity.name.clone()),
                Tag::str(ids::DESCRIPTION, self.identity.description.clone()),
            ],
        }
    }

    /// Answers one message from a logged-in client. Unknown or unexpected
    /// messages are ignored.
    pub fn handle(
        &mut self,
        conn: ConnId,
        server_addr: SocketAddrV4,
        msg: ClientToServer,
    ) -> Vec<Outgoing> {
        let Some(me) = self.clients.get(&conn).cloned() else {
            return Vec::new();
        };
        let reply = |msg| vec![Outgoing { to: conn, msg }];
        match msg {
            ClientToServer::OfferFiles(files) => {
                let n = self
                    .index
                    .offer(conn, (me.id, me.port), &files, self.max_files_per_client);
                // aMule 2.3.3 does not offer at login (unlike eMule): its files
                // come with its publish timer, about a minute after amuled
                // started, zlib-packed, and later only files not yet published
                // (seen in tests/amule_interop.rs).
                tracing::debug!("{}: offered {} files, kept {n}", me.addr, files.len());
                // Offers (and the empty keep-alive offers eMule sends) are answered
                // with fresh user and file counts, so clients' server lists stay current.
                reply(self.status())
            }
            ClientToServer::Search(tree) => {
                let Some(mut s) = self.start_search(conn, &tree) else {
                    return Vec::new();
                };
                while !self.search_step(&mut s, SEARCH_WORK) {}
                self.finish_search(s)
            }
            ClientToServer::GetSources { hash, .. } => {
                // Like eserver: a low-id client cannot reach a low-id source,
                // so it only gets high-id ones.
                let include_low = !crate::proto::is_low_id(me.id);
                let sources = self
                    .index
                    .sources(&hash, conn, include_low, 255)
                    .into_iter()
                    .map(|s| (s.client_id, s.port))
                    .collect();
                reply(ServerToClient::FoundSources { hash, sources })
            }
            ClientToServer::CallbackRequest { client_id } => {
                let target = self.low_ids.get(&client_id).copied();
                match target {
                    Some(t) if t != conn && !crate::proto::is_low_id(me.id) => vec![Outgoing {
                        to: t,
                        msg: ServerToClient::CallbackRequested {
                            ip: ip_to_u32(*me.addr.ip()),
                            port: me.port,
                        },
                    }],
                    _ => reply(ServerToClient::CallbackFailed),
                }
            }
            ClientToServer::GetServerList => {
                let list = if server_addr.ip().is_unspecified() {
                    Vec::new()
                } else {
                    vec![(ip_to_u32(*server_addr.ip()), server_addr.port())]
                };
                vec![
                    Outgoing {
                        to: conn,
                        msg: ServerToClient::ServerList(list),
                    },
                    Outgoing {
                        to: conn,
                        msg: self.ident(server_addr),
                    },
                ]
            }
            ClientToServer::Login(_) | ClientToServer::QueryMoreResults => Vec::new(),
            ClientToServer::Unknown { opcode } => {
                tracing::debug!("{}: ignored opcode 0x{opcode:02X}", me.addr);
                Vec::new()
            }
        }
    }

    /// Starts the search a logged-in client asked for; run it with
    /// [`Self::search_step`] (the core may change between steps) and answer
    /// with [`Self::finish_search`].
    pub fn start_search(&self, conn: ConnId, tree: &SearchTree) -> Option<PendingSearch> {
        let me = self.clients.get(&conn)?;
        let large = me.flags & login_flags::LARGEFILES != 0;
        Some(PendingSearch {
            conn,
            job: self.index.search_job(tree, large),
        })
    }

    /// Runs a search for about `work` units; true when it is done.
    pub fn search_step(&self, s: &mut PendingSearch, work: u64) -> bool {
        self.index.search_step(&mut s.job, work)
    }

    /// The answer to a finished search.
    pub fn finish_search(&self, s: PendingSearch) -> Vec<Outgoing> {
        vec![Outgoing {
            to: s.conn,
            msg: ServerToClient::SearchResult {
                files: self.index.search_results(s.job, self.max_results),
                more: None,
            },
        }]
    }

    /// The answer to a search refused for its size: no results.
    pub fn refuse_search(&self, conn: ConnId) -> Vec<Outgoing> {
        if !self.clients.contains_key(&conn) {
            return Vec::new();
        }
        vec![Outgoing {
            to: conn,
            msg: ServerToClient::SearchResult {
                files: Vec::new(),
                more: None,
            },
        }]
    }

    /// Forgets a client and its files.
    pub fn disconnect(&mut self, conn: ConnId) {
        if let Some(c) = self.clients.remove(&conn) {
            if self.low_ids.get(&c.id) == Some(&conn) {
                self.low_ids.remove(&c.id);
            }
        }
        self.index.remove_client(conn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::server_msg::FileEntry;
    use std::net::Ipv4Addr;

    fn core() -> ServerCore {
        ServerCore::new(
            ServerIdentity {
                hash: [9; 16],
                name: "n".into(),
                description: "d".into(),
                message: "hi".into(),
            },
            100,
            10,
        )
    }

    fn addr(port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)
    }

    #[test]
    fn ids_and_callbacks() {
        let mut c = core();
        let srv = addr(4661);
        let login = LoginRequest::standard([1; 16], 4662, "a", 0);
        let w = c.login(1, addr(5000), srv, &login, true);
        assert_eq!(w[0], ServerToClient::ServerMessage("hi".into()));
        assert_eq!(
            w[1],
            ServerToClient::IdChange {
                id: 0x0100_007F,
                tcp_flags: Some(SERVER_TCP_FLAGS)
            }
        );
        let w = c.login(2, addr(5001), srv, &login, false);
        let ServerToClient::IdChange { id: low, .. } = w[1] else {
            panic!("no id change")
        };
        assert!(crate::proto::is_low_id(low));
        let out = c.handle(1, srv, ClientToServer::CallbackRequest { client_id: low });
        assert_eq!(
            out,
            vec![Outgoing {
                to: 2,
                msg: ServerToClient::CallbackRequested {
                    ip: 0x0100_007F,
                    port: 4662
                }
            }]
        );
        let out = c.handle(1, srv, ClientToServer::CallbackRequest { client_id: 77 });
        assert_eq!(out[0].msg, ServerToClient::CallbackFailed);
        // Low-id requester cannot ask for callbacks.
        let out = c.handle(2, srv, ClientToServer::CallbackRequest { client_id: low });
        assert_eq!(out[0].msg, ServerToClient::CallbackFailed);
        c.disconnect(2);
        assert_eq!(c.user_count(), 1);
        let out = c.handle(1, srv, ClientToServer::CallbackRequest { client_id: low });
        assert_eq!(out[0].msg, ServerToClient::CallbackFailed);
    }

    #[test]
    fn sources_for_low_and_high() {
        let mut c = core();
        let srv = addr(4661);
        let login = LoginRequest::standard([1; 16], 4662, "a", 0);
        c.login(1, addr(5000), srv, &login, true);
        c.login(2, addr(5001), srv, &login, false);
        c.login(3, addr(5002), srv, &login, false);
        let f = FileEntry::offer([7; 16], "a.txt", 10, true);
        for conn in [1, 2] {
            c.handle(conn, srv, ClientToServer::OfferFiles(vec![f.clone()]));
        }
        let get = ClientToServer::GetSources {
            hash: [7; 16],
            size: None,
        };
        let ServerToClient::FoundSources { sources, .. } = &c.handle(3, srv, get.clone())[0].msg
        else {
            panic!("no sources")
        };
        assert_eq!(sources, &vec![(0x0100_007F, 4662)]);
        let ServerToClient::FoundSources { sources, .. } = &c.handle(1, srv, get)[0].msg else {
            panic!("no sources")
        };
        assert_eq!(sources.len(), 1);
        assert!(crate::proto::is_low_id(sources[0].0));
    }
}
