import './base.css';
import './panel.css';
import './jobview.css';
import './cells.css';
import './statusbar.css';
