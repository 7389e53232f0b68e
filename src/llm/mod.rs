//! The OpenAI-compatible API as a shared layer: its own types (the messages sent, the
//! usage reported), the [`provider`] settings, the HTTP [`client`] with its [`pace`], and
//! [`tokens`] counting. `draft`, `judge` and `batch` use it; it knows no stage.

pub mod client;
pub mod pace;
pub mod provider;
pub mod tokens;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// The messages a template produced, and any turns of a conversation after them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Messages {
    /// The system message, if the template wrote one.
    pub system: Option<String>,
    /// The user message.
    pub user: String,
    /// Later turns: the model's draft and the author's feedback on it, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub turns: Vec<Turn>,
    /// Sent as `prompt_cache_key` (`[draft] prompt_cache_key`): the chapter, so that the
    /// provider routes its prompts to the same cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_key: Option<String>,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The message's text.
    pub content: String,
}

impl Messages {
    /// Characters sent, for `--dry-run`'s estimate.
    pub fn chars(&self) -> usize {
        self.system.as_deref().map_or(0, |s| s.chars().count())
            + self.user.chars().count()
            + self.turns.iter().map(|t| t.content.chars().count()).sum::<usize>()
    }

    /// Every message in the order sent.
    pub fn all(&self) -> Vec<Turn> {
        let turn = |role: &str, content: &str| Turn {
            role: role.into(),
            content: content.into(),
        };
        let mut out: Vec<Turn> = self.system.iter().map(|s| turn("system", s)).collect();
        out.push(turn("user", &self.user));
        out.extend(self.turns.iter().cloned());
        out
    }

    /// The messages of a kept conversation (as [`Messages::all`] gave them).
    pub fn from_turns(turns: &[Turn]) -> Result<Messages> {
        let mut rest = turns.iter();
        let mut first = rest.next();
        let system = match first {
            Some(t) if t.role == "system" => {
                let s = t.content.clone();
                first = rest.next();
                Some(s)
            }
            _ => None,
        };
        let Some(user) = first.filter(|t| t.role == "user") else {
            bail!("the kept prompt has no user message");
        };
        Ok(Messages {
            system,
            user: user.content.clone(),
            turns: rest.cloned().collect(),
            cache_key: None,
        })
    }
}

/// Token counts from the API's `usage`, when it sent one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens of the prompt.
    pub prompt_tokens: u64,
    /// Tokens of the answer.
    pub completion_tokens: u64,
    /// Of the prompt tokens, those the provider served from its prompt cache.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cached_tokens: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
        self.cached_tokens += o.cached_tokens;
    }
}
