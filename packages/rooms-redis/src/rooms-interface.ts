// TEMPORARY: a copy of the adapter interface @verb-tcp/rooms is about to land; replaced by
// `import type` from '@verb-tcp/rooms' as soon as it is on main.
export interface MemberInfo {
  readonly connectionId: string
  readonly metadata: unknown
  readonly joinedAt: number
}
export interface RoomMember extends MemberInfo {
  readonly nodeId: string
}
export interface PublishOptions {
  readonly exclude?: string | undefined
}
export interface MembersOptions {
  readonly timeoutMs?: number | undefined
}
export interface MembersResult {
  readonly members: RoomMember[]
  readonly complete: boolean
}
export interface RoomsAdapterHost {
  deliver(room: string, bytes: Uint8Array, exclude?: string): number
  remoteJoined(room: string, member: RoomMember): void
  remoteLeft(room: string, member: RoomMember): void
  localMembers(room: string): MemberInfo[]
  localRooms(): string[]
  error(error: Error): void
}
export interface RoomsAdapter {
  readonly nodeId: string
  attach(host: RoomsAdapterHost): void
  subscribe(room: string): void
  unsubscribe(room: string): void
  publish(room: string, bytes: Uint8Array, options: PublishOptions): void
  join(room: string, member: MemberInfo): void
  leave(room: string, member: MemberInfo): void
  members(room: string, options?: MembersOptions): Promise<MembersResult>
  close(): Promise<void>
}
