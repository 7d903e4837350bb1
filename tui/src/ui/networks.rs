//! Pane 4: each network's listening sockets and its servers or neighbours.

use super::table_rows;
use super::widgets::{dim, header, human_size, link_style, selected};
use crate::app::{App, Pane};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;
use swarmux_net::ServerInfo;

/// Draws the pane.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let [networks_area, servers_area] = split(app, area);
    render_networks(app, frame, networks_area);
    render_servers(app, frame, servers_area);
}

/// How many server rows fit in `area`.
pub fn list_rows(app: &App, area: Rect) -> u16 {
    table_rows(split(app, area)[1])
}

fn split(app: &App, area: Rect) -> [Rect; 2] {
    let networks = (app.snapshot.networks.len().max(1) + 2).min(8) as u16;
    Layout::vertical([Constraint::Length(networks), Constraint::Min(0)]).areas(area)
}

/// The width of the network-name column: the longest name and a space.
fn name_width(app: &App) -> usize {
    app.snapshot
        .networks
        .iter()
        .map(|n| n.name.len())
        .max()
        .unwrap_or(4)
        + 1
}

fn render_networks(app: &App, frame: &mut Frame, area: Rect) {
    let width = name_width(app);
    let mut lines: Vec<Line> = app
        .snapshot
        .networks
        .iter()
        .map(|n| {
            let connected = n.servers.iter().filter(|s| s.state == "connected").count();
            let mut spans = vec![Span::styled(
                format!("{:<width$}", n.name),
                Style::new().add_modifier(Modifier::BOLD),
            )];
            if n.listening.is_empty() {
                spans.push(Span::styled("not listening", dim()));
            }
            for (name, addr) in &n.listening {
                spans.push(Span::raw(format!("{name} {addr}  ")));
            }
            spans.push(Span::styled(
                format!(
                    " {connected}/{} connected · uploaded {}",
                    n.servers.len(),
                    human_size(n.uploaded)
                ),
                dim(),
            ));
            Line::from(spans)
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled("no networks enabled", dim()));
    }
    let block = Block::bordered().title(" Networks ");
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn render_servers(app: &App, frame: &mut Frame, area: Rect) {
    let servers = app.server_rows();
    let filter = app.ui.filters[Pane::Networks.index()].as_str();
    let mut block = Block::bordered().title(" Servers and neighbours ");
    if !filter.is_empty() {
        block = block.title_bottom(Line::from(format!(" filter: {filter} ")).right_aligned());
    }
    if servers.is_empty() {
        let text = if filter.is_empty() {
            "no servers known (swarmux servers add HOST:PORT)"
        } else {
            "no servers match the filter (Esc clears it)"
        };
        frame.render_widget(Paragraph::new(Line::styled(text, dim())).block(block), area);
        return;
    }
    let wide = area.width >= 100;
    let several = app.snapshot.networks.len() > 1;
    // Columns as wide as their content (up to a cap); the message (the name
    // on a narrow screen) takes the rest.
    let fit = |head: &str, cap: usize, cell: &dyn Fn(&ServerInfo) -> usize| {
        let longest = servers.iter().map(|(_, s)| cell(s)).max().unwrap_or(0);
        Constraint::Length(longest.max(head.len()).min(cap) as u16)
    };
    let rows = servers.iter().map(|(network, s)| {
        let mut cells = Vec::new();
        if several {
            cells.push(Cell::from(network.to_string()));
        }
        cells.extend([
            Cell::from(short_addr(&s.addr)),
            Cell::from(s.name.clone()),
            Cell::from(s.state.clone()).style(link_style(&s.state)),
            Cell::from(s.identity.clone()),
            Cell::from(s.users.to_string()),
        ]);
        if wide {
            cells.push(Cell::from(s.files.to_string()));
            cells.push(Cell::from(s.message.clone()));
        }
        Row::new(cells)
    });
    let mut widths = Vec::new();
    let mut head = Vec::new();
    if several {
        widths.push(Constraint::Length(name_width(app) as u16));
        head.push("network");
    }
    widths.extend([
        fit("address", if wide { 40 } else { 21 }, &|s| {
            short_addr(&s.addr).len()
        }),
        if wide {
            fit("name", 20, &|s| s.name.chars().count())
        } else {
            Constraint::Fill(1)
        },
        fit("state", 16, &|s| s.state.chars().count()),
        fit("identity", 16, &|s| s.identity.len()),
        fit("users", 8, &|s| s.users.to_string().len()),
    ]);
    head.extend(["address", "name", "state", "identity", "users"]);
    if wide {
        widths.extend([
            fit("files", 9, &|s| s.files.to_string().len()),
            Constraint::Fill(1),
        ]);
        head.extend(["files", "message"]);
    }
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(header()))
        .row_highlight_style(selected())
        .block(block);
    let mut state = TableState::new()
        .with_offset(app.ui.networks.offset)
        .with_selected(app.ui.networks.index);
    frame.render_stateful_widget(table, area, &mut state);
}

/// A tracker URL without its usual `/announce` ending (the rest, scheme
/// and passkey included, stays).
fn short_addr(addr: &str) -> &str {
    match addr.strip_suffix("/announce") {
        Some(rest) if rest.contains("://") => rest,
        _ => addr,
    }
}
