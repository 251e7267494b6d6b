/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM kmig

#if !defined(_KMIG_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _KMIG_TRACE_H

#include <linux/tracepoint.h>

TRACE_EVENT(kmig_round_start,
	TP_PROTO(u32 role, u32 round, u64 dirty),
	TP_ARGS(role, round, dirty),
	TP_STRUCT__entry(
		__field(u32, role)
		__field(u32, round)
		__field(u64, dirty)
	),
	TP_fast_assign(
		__entry->role = role;
		__entry->round = round;
		__entry->dirty = dirty;
	),
	TP_printk("role=%u round=%u dirty=%llu", __entry->role, __entry->round,
		  __entry->dirty)
);

TRACE_EVENT(kmig_round_end,
	TP_PROTO(u32 role, u32 round, u32 flags, u64 pages, u64 bytes),
	TP_ARGS(role, round, flags, pages, bytes),
	TP_STRUCT__entry(
		__field(u32, role)
		__field(u32, round)
		__field(u32, flags)
		__field(u64, pages)
		__field(u64, bytes)
	),
	TP_fast_assign(
		__entry->role = role;
		__entry->round = round;
		__entry->flags = flags;
		__entry->pages = pages;
		__entry->bytes = bytes;
	),
	TP_printk("role=%u round=%u flags=%#x pages=%llu stream_bytes=%llu",
		  __entry->role, __entry->round, __entry->flags,
		  __entry->pages, __entry->bytes)
);

TRACE_EVENT(kmig_stream_error,
	TP_PROTO(u32 role, int error, u32 reason, u64 offset),
	TP_ARGS(role, error, reason, offset),
	TP_STRUCT__entry(
		__field(u32, role)
		__field(int, error)
		__field(u32, reason)
		__field(u64, offset)
	),
	TP_fast_assign(
		__entry->role = role;
		__entry->error = error;
		__entry->reason = reason;
		__entry->offset = offset;
	),
	TP_printk("role=%u error=%d reason=%u offset=%llu", __entry->role,
		  __entry->error, __entry->reason, __entry->offset)
);

#endif /* _KMIG_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
