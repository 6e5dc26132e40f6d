pub mod login;
pub mod room;
