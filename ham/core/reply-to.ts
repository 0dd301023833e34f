// The client request a reply answers: its session's token and the request's id. A request the
// client sends again after a takeover carries both again, and gets the reply recorded for them.
export interface ReplyTo {
  readonly token: string;
  readonly id: number;
}
