// Compiles micro/client.h on its own: it must include everything it uses.
#include "micro/client.h"
