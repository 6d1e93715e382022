/* wzp-call-page.h: the page shown during a call
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>
#include <wzp-glib.h>

#include "wzp-call-quality.h"
#include "wzp-contacts.h"

G_BEGIN_DECLS

#define WZP_TYPE_CALL_PAGE (wzp_call_page_get_type ())
G_DECLARE_FINAL_TYPE (WzpCallPage, wzp_call_page, WZP, CALL_PAGE, AdwBin)

void         wzp_call_page_set_contacts     (WzpCallPage *self,
                                             WzpContacts *contacts);
void         wzp_call_page_show_outgoing    (WzpCallPage *self,
                                             const char  *fingerprint);
void         wzp_call_page_set_call         (WzpCallPage *self,
                                             WzpCall     *call);
WzpCall     *wzp_call_page_get_call         (WzpCallPage *self);
void         wzp_call_page_focus_hang_up    (WzpCallPage *self);
const char  *wzp_call_page_get_state_text   (WzpCallPage *self);
const char  *wzp_call_page_get_path_text    (WzpCallPage *self);
void         wzp_call_page_show_outcome     (WzpCallPage *self,
                                             const char  *title,
                                             const char  *detail);
const char  *wzp_call_page_get_outcome      (WzpCallPage *self);
const char  *wzp_call_page_get_outcome_detail (WzpCallPage *self);
void         wzp_call_page_push_stats       (WzpCallPage *self,
                                             GVariant    *stats);
WzpCallQuality wzp_call_page_get_quality    (WzpCallPage *self);
GtkWidget   *wzp_call_page_get_quality_row  (WzpCallPage *self);
GtkWidget   *wzp_call_page_get_audio_row    (WzpCallPage       *self,
                                             WzpAudioDirection  direction);

G_END_DECLS
