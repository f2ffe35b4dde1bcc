// Compiles micro/metadata.h on its own: it must include everything it uses.
#include "micro/metadata.h"
