/* wzp-mic-test-row.h: "Test Your Microphone": a level meter on the chosen microphone
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define WZP_TYPE_MIC_TEST_ROW (wzp_mic_test_row_get_type ())
G_DECLARE_FINAL_TYPE (WzpMicTestRow, wzp_mic_test_row, WZP, MIC_TEST_ROW, AdwActionRow)

GtkWidget  *wzp_mic_test_row_new          (void);
void        wzp_mic_test_row_bind         (WzpMicTestRow *self,
                                           GSettings     *settings,
                                           const char    *key);
void        wzp_mic_test_row_set_testing  (WzpMicTestRow *self,
                                           gboolean       testing);
gboolean    wzp_mic_test_row_get_testing  (WzpMicTestRow *self);
double      wzp_mic_test_row_get_level    (WzpMicTestRow *self);

G_END_DECLS
