//! A page that only says something: the collector's error pages (a host
//! or cluster not found, a bad parameter, the database away).

use maud::html;

use super::document;

/// The page saying `message`, with a way back to the fleet.
pub fn render(message: &str) -> String {
    document(
        "tunekeeper",
        "",
        html! {
            header { a.home href="/" { "tunekeeper" } }
            main {
                p.msg { (message) }
                p { a href="/" { "Back to the fleet" } }
            }
        },
    )
}
