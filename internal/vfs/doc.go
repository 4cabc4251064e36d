// Package vfs is the file-system layer under internal/storage: the few
// operations the WAL, snapshot and meta files need, behind interfaces, so
// that tests can swap the real file system (OS) for one that crashes
// (Crashable: every write not yet fsynced is lost) or fails fsync with EIO
// or ENOSPC.
//
// Durability follows POSIX: a file's data is durable after File.Sync or
// File.Datasync returns nil; a create, rename or remove is durable after
// FS.SyncDir of every directory it touched returns nil. Code written
// against FS must not assume more, because Crashable does not grant more.
//
// # Which implementation
//
//   - OS: the real file system; fdatasync and fallocate on Linux, Sync and
//     Truncate elsewhere.
//   - Crashable: passes through to another FS, remembers what is not
//     durable, and on Crash puts the disk back the way a power cut could
//     have left it (optionally tearing the newest write); FailSyncs and
//     FailWrites inject errors such as syscall.EIO or syscall.ENOSPC. Its
//     doc comment lists exactly what it models and what it simplifies.
package vfs
