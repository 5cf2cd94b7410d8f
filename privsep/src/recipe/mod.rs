//! Recipes: the privilege-separation steps for one kind of process, applied
//! in the right order, returning a record of what was applied.

mod login;
mod plan;
mod post_login;

pub use login::{LoginProcessRecipe, LoginUser};
pub use post_login::{PostLoginRecipe, DEFAULT_FIRST_VALID_UID};
