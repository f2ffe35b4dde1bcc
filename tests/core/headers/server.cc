// Compiles micro/server.h on its own: it must include everything it uses.
#include "micro/server.h"
