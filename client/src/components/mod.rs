pub mod composer;
pub mod formatted;
pub mod message_list;
pub mod people;
pub mod room_menu;
pub mod route_link;
pub mod sidebar;
pub mod status;
