//! The request types of the classic adapter (notes §3b: "Request types").

/// What a request asks (and what a response answers): the `type` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// 0: the ids of the sockets in some rooms (answered, no longer sent
    /// by Node).
    Sockets,
    /// 1: every room of every server.
    AllRooms,
    /// 2: selected sockets join rooms.
    RemoteJoin,
    /// 3: selected sockets leave rooms.
    RemoteLeave,
    /// 4: selected sockets are disconnected.
    RemoteDisconnect,
    /// 5: selected sockets are described.
    RemoteFetch,
    /// 6: an event for the servers' own handlers, and its replies.
    ServerSideEmit,
    /// 7: a broadcast that wants the clients' acks (msgpack).
    Broadcast,
    /// 8: how many clients a server sent such a broadcast to.
    BroadcastClientCount,
    /// 9: one client's ack of such a broadcast (msgpack).
    BroadcastAck,
}

impl RequestKind {
    /// The number on the wire.
    pub const fn code(self) -> u8 {
        match self {
            Self::Sockets => 0,
            Self::AllRooms => 1,
            Self::RemoteJoin => 2,
            Self::RemoteLeave => 3,
            Self::RemoteDisconnect => 4,
            Self::RemoteFetch => 5,
            Self::ServerSideEmit => 6,
            Self::Broadcast => 7,
            Self::BroadcastClientCount => 8,
            Self::BroadcastAck => 9,
        }
    }

    /// The kind a number on the wire names, if any.
    pub const fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            0 => Self::Sockets,
            1 => Self::AllRooms,
            2 => Self::RemoteJoin,
            3 => Self::RemoteLeave,
            4 => Self::RemoteDisconnect,
            5 => Self::RemoteFetch,
            6 => Self::ServerSideEmit,
            7 => Self::Broadcast,
            8 => Self::BroadcastClientCount,
            9 => Self::BroadcastAck,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in 0..10 {
            assert_eq!(
                u64::from(RequestKind::from_code(code).unwrap().code()),
                code
            );
        }
        assert_eq!(RequestKind::from_code(10), None);
    }
}
