// What damage a check found costs: ranges whose chunk a later backup stored again are set aside
// as notes; the rest are mapped to the snapshots they touch (by recipe, by commit block, and the
// commits a range may have held). Memory is the damaged set, not the store.
#pragma once

#include "engine/check.h"

namespace bv::engine {

// A damaged data block whose chunk the index finds intact elsewhere moves from damage to notes.
Status SeparateSuperseded(Volume* v, CheckReport* report);

// Fills each damage's snapshots, lost and maybe_lost.
Status MapDamageToSnapshots(Volume* v, CheckReport* report);

}  // namespace bv::engine
