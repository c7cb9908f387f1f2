// LiveKit's WebRTC globals must be registered before anything touches livekit-client.
import './src/livekit/setup';

import { registerRootComponent } from 'expo';

import App from './App';

registerRootComponent(App);
