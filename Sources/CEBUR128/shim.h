// libebur128 (Debian: libebur128-dev): EBU R128 loudness (integrated loudness, loudness
// range, true peak) of each audio track, for the static gain `--loudness` applies.
#include <ebur128.h>
