/* quantity.h — Kubernetes-style quantities and durations.
 *
 * CPU:      "2", "0.5", "100m"             -> millicores (2000, 500, 100)
 * Memory:   "64Mi", "1G", "512k", "1048576" -> bytes (binary Ki/Mi/Gi/Ti,
 *           decimal k/K/M/G/T; "64M" is 64*10^6 as in Kubernetes)
 * Duration: "500ms", "10s", "1m30s", "2h"   -> milliseconds
 *
 * Each returns 0 or -EINVAL (malformed) / -ERANGE (too large / negative).
 */
#ifndef SKIFF_QUANTITY_H
#define SKIFF_QUANTITY_H

#include <stddef.h>
#include <stdint.h>

int skiff_parse_cpu(const char *s, int64_t *ret_milli);
int skiff_parse_memory(const char *s, int64_t *ret_bytes);
int skiff_parse_duration(const char *s, int64_t *ret_ms);

/* Format back the way Kubernetes prints them ("500m", "2", "64Mi", "1500ms",
 * "10s"). Return buf. */
char *skiff_format_cpu(int64_t milli, char *buf, size_t len);
char *skiff_format_memory(int64_t bytes, char *buf, size_t len);
char *skiff_format_duration(int64_t ms, char *buf, size_t len);

#endif
