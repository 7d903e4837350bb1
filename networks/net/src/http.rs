//! One blocking HTTP(S) GET with a time limit and a size cap, for trackers,
//! Torznab indexers and link files fetched by URL (a .torrent) (call it off the async threads), sent
//! from the configured bind address: ureq has no setting for a local
//! address, so its TCP step is replaced by a connector that binds the socket
//! (with `socket2`) before connecting, followed by ureq's own TLS connector.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, RustlsConnector,
    Transport,
};

/// GETs `url` from `local` (any address when `None` or unspecified); a
/// non-2xx status, a timeout or a body over `max_bytes` is an error (a
/// sentence for the log).
pub fn get(
    url: &str,
    timeout: Duration,
    max_bytes: u64,
    local: Option<IpAddr>,
) -> Result<Vec<u8>, String> {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .build();
    let agent = match local.filter(|ip| !ip.is_unspecified()) {
        None => ureq::Agent::new_with_config(config),
        Some(ip) => {
            let connector = ().chain(BoundConnector(ip)).chain(RustlsConnector::default());
            ureq::Agent::with_parts(config, connector, DefaultResolver::default())
        }
    };
    let mut resp = agent.get(url).call().map_err(|e| e.to_string())?;
    let mut body = Vec::new();
    resp.body_mut()
        .as_reader()
        .take(max_bytes + 1)
        .read_to_end(&mut body)
        .map_err(|e| e.to_string())?;
    if body.len() as u64 > max_bytes {
        return Err(format!("answer larger than {max_bytes} bytes"));
    }
    Ok(body)
}

/// Opens TCP connections from one local address.
#[derive(Debug)]
struct BoundConnector(IpAddr);

impl<In: Transport> Connector<In> for BoundConnector {
    type Out = Either<In, BoundTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if chained.is_some() {
            return Ok(chained.map(Either::A));
        }
        let wait = details.timeout.not_zero().map(|d| *d);
        let mut last = io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("no address of the same family as {}", self.0),
        );
        // a socket bound to an IPv4 address cannot reach an IPv6 one, and the reverse
        for addr in details
            .addrs
            .iter()
            .filter(|a| a.is_ipv4() == self.0.is_ipv4())
        {
            match connect_from(self.0, *addr, wait) {
                Ok(stream) => {
                    let config = details.config;
                    stream.set_nodelay(config.no_delay())?;
                    let buffers =
                        LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size());
                    return Ok(Some(Either::B(BoundTransport { stream, buffers })));
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return Err(ureq::Error::Timeout(details.timeout.reason))
                }
                Err(e) => last = e,
            }
        }
        Err(last.into())
    }
}

fn connect_from(local: IpAddr, addr: SocketAddr, wait: Option<Duration>) -> io::Result<TcpStream> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.bind(&SocketAddr::new(local, 0).into())?;
    match wait {
        Some(wait) => socket.connect_timeout(&addr.into(), wait)?,
        None => socket.connect(&addr.into())?,
    }
    Ok(socket.into())
}

/// A TCP connection opened by [`BoundConnector`]; never pooled for reuse
/// (every [`get`] has its own agent).
#[derive(Debug)]
struct BoundTransport {
    stream: TcpStream,
    buffers: LazyBuffers,
}

/// An I/O error as ureq reports it: a timeout as the `reason` it was for.
fn io_error(e: io::Error, reason: ureq::Timeout) -> ureq::Error {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ureq::Error::Timeout(reason),
        _ => e.into(),
    }
}

/// The socket timeout for `t`: `Err` when no time is left, `None` for none.
fn socket_timeout(t: NextTimeout) -> Result<Option<Duration>, ureq::Error> {
    if !t.after.is_not_happening() && (*t.after).is_zero() {
        return Err(ureq::Error::Timeout(t.reason));
    }
    Ok(t.not_zero().map(|d| *d))
}

impl Transport for BoundTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = timeout.for_write();
        self.stream.set_write_timeout(socket_timeout(timeout)?)?;
        let output = &self.buffers.output()[..amount];
        self.stream
            .write_all(output)
            .map_err(|e| io_error(e, timeout.reason))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let timeout = timeout.for_read();
        self.stream.set_read_timeout(socket_timeout(timeout)?)?;
        let amount = loop {
            match self.stream.read(self.buffers.input_append_buf()) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other.map_err(|e| io_error(e, timeout.reason))?,
            }
        };
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        false
    }
}
