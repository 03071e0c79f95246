Blockly.Msg["ADD_COMMENT"] = "Bemierkung derbäisetzen";
Blockly.Msg["X"] = 'esc \u00e9 \n \x41';  // untranslated
Blockly.Msg.Y = "z";
